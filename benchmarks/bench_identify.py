"""What identification costs: its share of a 100-epoch fit of the demo, and its growth with voxels.

Run:  .venv/bin/python benchmarks/bench_identify.py [--store PREPARED.zarr] [--k 16 32]

Fits LT+MSA on the demo's training subjects (the embedded dataset, prepared on the 4 mm grid; generated
and prepared here unless ``--store`` names one, e.g. ``results/demo/prepared.zarr``) and records the
identification's wall time (FastICA restarts, ordering pass, rewriting) as a share of the rest of the fit
(principal subspace, projection and 100 epochs) and of the 100 epochs alone. Then times
:func:`syncact.brain.identify.independent_maps` alone on maps of 1x, 2x, 4x and 8x the voxels (the
trained maps tiled with noise), side by side in one process: the ratios show the growth in voxels.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="a prepared store of the embedded dataset (default: generate one)")
    parser.add_argument("--k", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    from syncact.brain import FBNEmbedding, PreparedStore, split_subjects
    from syncact.brain.identify import independent_maps

    if args.store is None:
        from syncact.brain import prepare_dataset, scan_dataset
        from syncact.simulate import make_dataset

        work = Path(tempfile.mkdtemp(prefix="syncact-identify-"))
        ds = make_dataset(work / "data", seed=0, progress=False)
        store = prepare_dataset(scan_dataset(ds.root, task="movie"), work / "prepared.zarr")
    else:
        store = PreparedStore(args.store)
    split = split_subjects(store.subjects, seed=0)
    train = store.runset(store.segments(subjects=split["train"]))
    val = store.runset(store.segments(subjects=split["validation"]))
    fits = []
    for k in args.k:
        tic = time.perf_counter()
        emb = FBNEmbedding(k, temporal="msa", n_epochs=args.epochs, seed=0).fit(train, val)
        whole = time.perf_counter() - tic
        epochs = float(emb.history_.seconds.sum())
        seconds = emb.identification_.seconds
        fits.append({"n_networks": k, "n_voxels": store.n_features, "fit_seconds": whole, "epochs_seconds": epochs,
                     "identify_seconds": seconds, "share_of_fit": seconds / (whole - seconds),
                     "share_of_epochs": seconds / epochs})
        print(fits[-1], flush=True)
    maps = emb.maps_
    rng = np.random.default_rng(0)
    scaling = []
    for factor in (1, 2, 4, 8):
        tiled = np.hstack([maps] + [maps + 0.1 * maps.std() * rng.standard_normal(maps.shape) for _ in range(factor - 1)])
        tic = time.perf_counter()
        independent_maps(tiled, seed=0)
        scaling.append({"voxels": tiled.shape[1], "seconds": time.perf_counter() - tic})
    base = scaling[0]["seconds"]
    for row in scaling:
        row["ratio"] = row["seconds"] / base
        print(row, flush=True)
    print("record:", write_record(args.out, "identify", {"args": vars(args), "fits": fits, "voxel_scaling": scaling}))


if __name__ == "__main__":
    main()
