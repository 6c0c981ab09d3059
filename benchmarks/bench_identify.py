"""What identification costs: its share of a 100-epoch fit of the demo, and its growth with voxels.

Run:  .venv/bin/python benchmarks/bench_identify.py [--store PREPARED.zarr] [--k 16 32]

Fits LT+MSA on the demo's training subjects (the embedded dataset, prepared on the 4 mm grid; generated
and prepared here unless ``--store`` names one, e.g. ``results/demo/prepared.zarr``) and records the
identification's wall time (FastICA restarts, ordering pass, rewriting) as a share of the rest of the fit
(principal subspace, projection and 100 epochs) and of the 100 epochs alone. Then times
:func:`syncact.networks.identify.independent_maps` alone on maps of 1x, 2x, 4x and 8x the voxels (the
trained maps tiled with noise), side by side in one process: the ratios show the growth in voxels.
With the demo's run directory (``--run-dir``, for its planted ground truth), it also fits LT, LT+MSA and
LT+LSTM (K = 16; LT+LSTM also with one run per optimisation step) and records each one's first and best
validation loss, the span correlation of the planted maps with its maps (the ceiling of any
identification) and the spatial r of its raw and identified maps.
"""

from __future__ import annotations

import argparse
import shutil
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
    parser.add_argument("--run-dir", help="the demo's run directory (ground truth for the per-variant figures)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    import sklearn.decomposition  # noqa: F401 - imported once beforehand, as in the pipeline (nilearn imports it)

    from syncact.brain import PreparedStore
    from syncact.networks import FBNEmbedding, split_subjects
    from syncact.networks.identify import independent_maps

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
    variants = []
    if args.run_dir:
        import nibabel as nib

        from syncact.analysis.recovery import span_correlation

        truth = Path(args.run_dir) / "data" / "derivatives" / "ground_truth"
        mask = np.asarray(store.mask_img().dataobj, dtype=bool)
        planted = np.asarray(nib.load(next(truth.glob("*maps*.nii.gz"))).dataobj)[mask].T  # (n_planted, V)
        # LT+LSTM once more with one run per step: 12x the optimisation steps of the paper's batch of 16 runs
        for temporal, batch in (("none", 16), ("msa", 16), ("lstm", 16), ("lstm", 1)):
            emb = FBNEmbedding(16, temporal=temporal, n_epochs=args.epochs, batch_size=batch, seed=0).fit(train, val)
            raw = np.linalg.inv(emb.identification_.mixing) @ emb.maps_  # back to the trained maps
            r = lambda m: np.abs(np.corrcoef(np.vstack([planted, m]))[: len(planted), len(planted):]).max(axis=1)  # noqa: E731
            variants.append({"temporal": temporal, "batch_size": batch, "steps": len(emb.history_.train_loss) * -(-len(train) // batch),
                             "best_validation_loss": float(np.nanmin(emb.history_.validation_loss)),
                             "first_validation_loss": float(emb.history_.validation_loss[0]),
                             "span_r": span_correlation(planted, emb.maps_).round(3).tolist(),
                             "raw_spatial_r": r(raw).round(3).tolist(), "identified_spatial_r": r(emb.maps_).round(3).tolist()})
            print(variants[-1], flush=True)
    print("record:", write_record(args.out, "identify", {"args": vars(args), "fits": fits, "voxel_scaling": scaling,
                                                        "variants": variants}))
    if args.store is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
