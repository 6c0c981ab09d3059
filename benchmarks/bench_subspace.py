"""The embedding's principal subspace: randomized against exact, and its passes as units on 1 and 2 workers.

Run:  .venv/bin/python benchmarks/bench_subspace.py [--data DIR] [--out DIR]

On the embedded dataset (10 subjects x 2 runs x 200 TRs, MNI152 4 mm, 29,398 voxels; generated and prepared
under ``--data`` when missing), with the demo's split (6 training subjects) and r = 256:

1. **Accuracy**: the largest principal angle between the randomized subspace (Halko et al. range finder, 3 power
   iterations, oversampling 32) and the exact one, over their top 4, 7 (the planted networks), 16 and all 256
   directions, and the variance of the data each captures (beyond the 7 planted networks the spectrum is the flat
   noise floor, where any 16 or 256 directions hold the same variance and angles say little); then the demo's
   embedding (LT+MSA, K = 16, 100 epochs, identified) fitted in each basis, and its recovery of the planted maps.
   Bar (issue 22): recovery unchanged within 0.01.
2. **Exact or randomized**: seconds of each in one process as the stacked rows grow (the training runs repeated:
   the cost depends on the shape only), to place ``exact_max_rows``.
3. **Scaling**: the randomized subspace as plan units (``syncact.analysis.subspace_units``: 4 shares per pass)
   over the 20 runs taken 4 times (80 runs, 16,000 rows) on a local Dask cluster of 1 and of 2 single-threaded
   workers, each started before timing, alternately over ``--rounds`` rounds (medians compared), with where the
   time went (shares, reduce units) from the scheduler's task stream. Bar: >= 1.6x on 2. Beside it, the machine's
   own ceiling: one share's product alone, then in two processes at once.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _harness import peak_gb, write_record

from syncact.analysis import recovery_table, subspace_units
from syncact.brain import PreparedStore, prepare_dataset, scan_dataset
from syncact.networks import FBNEmbedding, split_subjects
from syncact.networks.subspace import principal_subspace
from syncact.simulate import load_ground_truth, make_dataset
from syncact.units import Executor, Plan


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    cosines = np.linalg.svd(np.linalg.qr(a.astype(np.float64))[0].T @ np.linalg.qr(b.astype(np.float64))[0],
                            compute_uv=False)
    return float(np.degrees(np.arccos(np.clip(cosines.min(), -1, 1))))


def _captured(runs, basis: torch.Tensor) -> float:  # noqa: ANN001
    """Variance of the stacked runs inside ``span(basis)``."""
    return float(sum((torch.from_numpy(np.asarray(x, dtype=np.float32)) @ basis).double().square().sum() for x in runs))


def _recovery(store: PreparedStore, train, basis: torch.Tensor, data: Path) -> dict[str, float]:  # noqa: ANN001
    """The demo's embedding fitted in ``basis``: spatial r of each planted map with its best FBN."""
    emb = FBNEmbedding(16, temporal="msa", n_epochs=100, seed=0).fit(train, basis=basis)
    networks, maps, mask = load_ground_truth(data)
    volume = np.zeros(mask.shape + (len(maps),))
    volume[mask] = maps.T
    planted = volume[np.asarray(store.mask_img().dataobj, dtype=bool)].T
    table = recovery_table(networks, planted, emb.maps_, {}, {})
    return dict(zip(table["network"], table["spatial_r"].round(4), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "syncact-bench-subspace")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--rounds", type=int, default=3, help="1- and 2-worker runs each, alternately (median kept)")
    args = parser.parse_args()
    data, store_path = args.data / "bids", args.data / "prepared.zarr"
    if not (data / "dataset_description.json").is_file():
        make_dataset(data, n_subjects=10, n_runs=2, n_timepoints=200, seed=0, progress=True)
    if not store_path.exists():
        prepare_dataset(scan_dataset(data, task="movie").check(), store_path, progress=True)
    store = PreparedStore(store_path)
    subjects = sorted({s.subject for s in store.segments()})
    split = split_subjects(subjects, (0.6, 0.1, 0.3), seed=0)
    train = store.runset(store.segments(subjects=split["train"]))
    record: dict[str, object] = {"n_voxels": store.n_features, "train_runs": len(train),
                                 "train_rows": sum(s[0] for s in train.shapes), "r": 256}

    # 1. accuracy against exact
    tic = time.perf_counter()
    exact = principal_subspace(train, 256)
    exact_s = time.perf_counter() - tic
    tic = time.perf_counter()
    randomized = principal_subspace(train, 256, exact_max_rows=0, seed=0)
    randomized_s = time.perf_counter() - tic
    angles = {str(k): _angle(exact[:, :k].numpy(), randomized[:, :k].numpy()) for k in (4, 7, 16, 256)}
    captured = {str(k): _captured(train, randomized[:, :k]) / _captured(train, exact[:, :k]) for k in (7, 16, 256)}
    print(f"largest principal angle, randomized vs exact (degrees): {angles}; variance captured, randomized / exact: "
          f"{captured}; exact {exact_s:.1f} s, randomized {randomized_s:.1f} s")
    rec = {name: _recovery(store, train, basis, data) for name, basis in (("exact", exact), ("randomized", randomized))}
    diff = max(abs(rec["exact"][n] - rec["randomized"][n]) for n in rec["exact"])
    print(f"recovery (spatial r) exact {rec['exact']}\n  randomized {rec['randomized']}\n  largest difference {diff:.4f}")
    record.update(angles_deg=angles, captured=captured, recovery=rec, recovery_max_diff=diff, exact_s=exact_s,
                  randomized_s=randomized_s)

    # 2. exact or randomized, as the rows grow
    segments = list(train.segments)
    crossover = []
    for copies in (1, 2, 3):
        runs = store.runset(segments * copies)
        rows = sum(s[0] for s in runs.shapes)
        times = {}
        for method, limit in (("exact", 10**9), ("randomized", 0)):
            tic = time.perf_counter()
            principal_subspace(runs, 256, exact_max_rows=limit, seed=0)
            times[method] = time.perf_counter() - tic
        print(f"{rows} rows: exact {times['exact']:.1f} s, randomized {times['randomized']:.1f} s")
        crossover.append({"rows": rows, **times})
    record["rows_vs_seconds"] = crossover

    # 3. plan units on 1 and 2 workers: the 20 runs 4 times over (the study's shares hold ~100 runs each; with 5 runs
    # a unit's product is shorter than moving its block), on clusters started before the clock runs, alternately
    everything = store.runset(store.segments() * 4)
    walls: dict[str, list[float]] = {"1": [], "2": []}
    spans: dict[str, list[dict[str, float]]] = {"1": [], "2": []}
    for round_ in range(args.rounds):
        for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
            wall, basis, span = _units_run(everything, workers)
            walls[str(workers)].append(wall)
            spans[str(workers)].append(span)
            print(f"round {round_ + 1}, {workers} worker(s): {wall:.1f} s ({span})")
    median = {w: float(np.median(v)) for w, v in walls.items()}
    ceiling = _kernel_ceiling(everything.shard(0, 4))
    print(f"this machine's own 2-process scaling of a share's product: {ceiling['speedup']:.2f}x")
    direct = principal_subspace(everything, 256, exact_max_rows=0, seed=0).numpy()
    record.update(units_seconds=median, units_runs=walls, units_spans=spans, speedup=median["1"] / median["2"],
                  ceiling=ceiling, all_runs=len(everything),
                  units_vs_direct_angle_top64=_angle(basis[:, :64], direct[:, :64]), peak_gb=peak_gb())
    print(json.dumps({k: record[k] for k in ("speedup", "units_vs_direct_angle_top64")}))
    print("record:", write_record(args.out, "subspace", record))


def _units_run(runs, workers: int) -> tuple[float, np.ndarray, dict[str, float]]:  # noqa: ANN001
    """The randomized subspace as plan units on a fresh local cluster of ``workers`` (started before the clock):
    wall seconds, the basis, and where the time went (from the scheduler's task stream): seconds of the shares and
    of the reduce units summed over workers, and the span from the first unit's start to the last's end."""
    from distributed import LocalCluster

    folder = Path(tempfile.mkdtemp(prefix="syncact-subspace-units-"))
    try:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            plan = Plan()
            final = subspace_units(plan, "subspace/r256", runs, 256, seed=0, exact_max_rows=0)
            tic = time.perf_counter()
            result = Executor(scheduler=cluster.scheduler_address).run(plan, folder, progress=False)
            wall = time.perf_counter() - tic
            basis = result[final.name]["basis"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times = result.timeline.values()
    span = {"shares": sum(b - a for n, (a, b) in result.timeline.items() if "/share-" in n),
            "reduces": sum(b - a for n, (a, b) in result.timeline.items() if "/share-" not in n),
            "span": max(b for _, b in times) - min(a for a, _ in times)}
    return wall, basis, {k: round(v, 2) for k, v in span.items()}


def _kernel_ceiling(share, repeats: int = 3) -> dict[str, float]:  # noqa: ANN001
    """What this machine gives two processes: one share's product (:func:`range_product` over its runs, one
    thread) alone, then in two processes at once; ``speedup`` = 2 x alone / together (2.0 on two free cores)."""
    code = ("import pickle, sys, time, torch; torch.set_num_threads(1)\n"
            "from syncact.networks.subspace import range_product, sketch\n"
            "share = pickle.load(open(sys.argv[1], 'rb')); q = sketch(share.shapes[0][1], 288, 0)\n"
            "range_product(share[:2], q); t = time.perf_counter(); range_product(share, q)\n"
            "print(time.perf_counter() - t)")
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as fh:
        pickle.dump(share, fh)
    try:
        def run(n: int) -> float:
            procs = [subprocess.Popen([sys.executable, "-c", code, fh.name], stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(n)]
            return max(float(p.communicate()[0]) for p in procs)

        alone = min(run(1) for _ in range(repeats))
        together = min(run(2) for _ in range(repeats))
    finally:
        os.unlink(fh.name)
    return {"alone_s": alone, "together_s": together, "speedup": 2 * alone / together}


if __name__ == "__main__":
    main()
