"""The demo's figures, recorded: what README.md and docs quote about `syncact demo`, written by a run.

Run:  .venv/bin/python benchmarks/bench_demo.py [--identify ica none]

Runs the demo (seed 0, default config) in a fresh child process per setting of ``[embedding] identify``
(``ica``, the default, and ``none``, the paper's raw weights, for the before/after comparison) and writes
``benchmarks/results/demo-<date>.json`` with :func:`syncact.demo.demo_figures` (recovery of the planted
networks, detection by the shift test, the mismatched-movie control, mean PCC range, annotation hits),
the wall time and the peak memory of each run. ``tests/test_demo.py`` runs the demo and holds its
figures to the latest record within stated tolerances.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _harness import peak_gb, run_child, serve_child, write_record


def demo(identify: str) -> dict:
    from syncact.demo import demo_figures, run_demo

    out = Path(tempfile.mkdtemp(prefix="syncact-demo-"))
    try:
        tic = time.perf_counter()
        result = run_demo(out, identify=identify, progress=False)
        return {**demo_figures(result), "wall_seconds": time.perf_counter() - tic, "peak_gb": peak_gb()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        serve_child(sys.argv[2], {"demo": demo})
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identify", nargs="+", default=["ica", "none"], choices=["ica", "none"])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    report = {"args": vars(args)}
    for identify in args.identify:
        report[identify] = run_child(__file__, "demo", identify=identify)
        print(identify, report[identify], flush=True)
    print("record:", write_record(args.out, "demo", report))


if __name__ == "__main__":
    main()
