"""One experiment graph against the stage-by-stage plan it replaced, side by side on the demo (issue 22, item 2).

Run:  .venv/bin/python benchmarks/bench_graph.py [--before d2488a4] [--repeats 2] [--workers 2]

The demo's dataset and config (``syncact.demo.prepare_demo``: 10 subjects x 2 runs x 200 volumes on the 4 mm
grid, Lite0 and ResNet-18, K = 16 over 100 epochs, annotation and encoding) are run with ``syncact run
--workers N`` by two versions of syncact, alternately, each run in a fresh run directory with a fresh
activation cache (nothing reused):

* **before**: the commit ``--before`` (default d2488a4, the last with one plan and one Dask cluster per
  stage: frames, preparation, extraction, fits, pairing; encoding in the driver), checked out in a temporary
  git worktree and imported through ``PYTHONPATH``;
* **after**: this checkout (one session, one graph: every unit submitted as soon as the driver can name its
  inputs; the driver waits once, for the prepared store).

Recorded: wall time of each run (the command, cluster start included) and the ratio of the medians; the
provenance's stage timings and, for the graph, the seconds each stage's units ran; whether every table of the
two versions is byte-identical; and, from in-process runs of this checkout (the default threads, and
OMP_NUM_THREADS=1 as on a worker), how far their tables are from the 2-worker run's (docs/distributed.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from _harness import syncact_run, write_record

ROOT = Path(__file__).resolve().parents[1]


def run(src: Path, config: Path, out: Path, cache: Path, workers: int | None, threads: int | None = None) -> dict:
    """``syncact run`` of the syncact under ``src`` (``threads``: its OMP_NUM_THREADS); wall time and stage timings."""
    wall, timings = syncact_run(config, out, cache=cache, workers=workers, src=src, threads=threads)
    return {"wall_s": round(wall, 2), "timings": {k: round(v, 2) for k, v in timings.items()}}


def tables_equal(a: Path, b: Path) -> dict[str, bool]:
    """Per table of run ``a``: byte-identical in run ``b``."""
    return {p.name: (b / "tables" / p.name).is_file() and p.read_bytes() == (b / "tables" / p.name).read_bytes()
            for p in sorted((a / "tables").glob("*.csv"))}


def largest_differences(a: Path, b: Path) -> dict[str, dict[str, float]]:
    """Per table and numeric column, the largest absolute difference between two runs (columns that differ)."""
    import pandas as pd

    out = {}
    for path in sorted((a / "tables").glob("*.csv")):
        x, y = pd.read_csv(path), pd.read_csv(b / "tables" / path.name)
        diffs = {}
        for column in x.select_dtypes("number").columns:
            d = np.abs(x[column].to_numpy(float) - y[column].to_numpy(float))
            if np.nanmax(d, initial=0.0) > 0:
                diffs[column] = float(np.nanmax(d))
        if diffs:
            out[path.stem] = diffs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="d2488a4", help="the stage-by-stage version (a git revision)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    from syncact.demo import prepare_demo

    tmp = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    worktree = tmp / "before"
    try:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before], check=True,
                       capture_output=True)
        revision = subprocess.run(["git", "-C", str(worktree), "rev-parse", "--short", "HEAD"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        config = prepare_demo(tmp / "demo", progress=False)
        versions = {"before": worktree / "src", "after": ROOT / "src"}
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(args.repeats):
            for name, src in versions.items():  # alternately, so a slower spell of the machine hits both
                out = tmp / f"{name}-{i}"
                runs[name].append(run(src, config, out, tmp / f"cache-{name}-{i}", args.workers))
                print(f"{name} #{i}: {runs[name][-1]['wall_s']:.1f} s", flush=True)
        serial = run(versions["after"], config, tmp / "serial", tmp / "cache-serial", None)
        one_thread = run(versions["after"], config, tmp / "serial-1", tmp / "cache-serial-1", None, threads=1)
        print(f"in-process (after): {serial['wall_s']:.1f} s; one thread {one_thread['wall_s']:.1f} s", flush=True)
        same = tables_equal(tmp / "after-0", tmp / "before-0")
        medians = {name: float(np.median([r["wall_s"] for r in rs])) for name, rs in runs.items()}
        report = {
            "dataset": "syncact demo: 10 subjects x 2 runs x 200 volumes, 4 mm MNI152 grid (29,398 voxels); Lite0 "
                       "(block3, last_conv) and ResNet-18 random (last_conv); K 16, 100 epochs; annotation, encoding",
            "workers": args.workers, "before_revision": revision, "repeats": args.repeats,
            "before": runs["before"], "after": runs["after"], "in_process_after": serial,
            "in_process_one_thread_after": one_thread,
            "median_s": medians, "ratio": round(medians["after"] / medians["before"], 3), "bar": 0.75,
            "tables_identical": same, "all_tables_identical": all(same.values()),
            "in_process_vs_workers_max_abs_diff": largest_differences(tmp / "serial", tmp / "after-0"),
            "in_process_one_thread_vs_workers_max_abs_diff": largest_differences(tmp / "serial-1", tmp / "after-0"),
            "cpus": os.cpu_count(),
        }
        print(f"graph / stage-by-stage on {args.workers} workers: {report['ratio']:.2f} "
              f"({medians['after']:.1f} s / {medians['before']:.1f} s); tables identical: {report['all_tables_identical']}")
        write_record(args.out, "graph", report)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
