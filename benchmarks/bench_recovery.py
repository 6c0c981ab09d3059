"""Recovery of the planted networks by every embedding variant and baseline, on the embedded dataset.

Run:  .venv/bin/python benchmarks/bench_recovery.py [--seeds 0 1 2] [--k 16 32] [--subjects 10] [--timepoints 200]

The demo's dataset (planted maps and stimulus-driven time courses, see docs/embedded-dataset.md) is
generated once; the pipeline then runs with a ``[sweep]`` of LT, LT+LSTM, LT+MSA, CanICA, DictLearning,
PCA and SRM at each K, once per seed (the seed sets the subject split and the initialisations). For
every fit the record holds, per planted network, the best spatial correlation of its map with an FBN
map and, for driven networks, the best temporal correlation of its BOLD with a test-mean FBN
activation; and the ablation metrics of the Eq.2 pairs. The summary table is the mean over networks
and seeds with the range over seeds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from _harness import write_record

METHODS = ["lt", "lt+lstm", "lt+msa", "canica", "dictlearning", "pca", "srm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--k", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--timepoints", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    from syncact.config import parse_config
    from syncact.pipeline import run_experiment
    from syncact.simulate import make_dataset

    work = Path(tempfile.mkdtemp(prefix="syncact-recovery-"))
    ds = make_dataset(work / "data", n_subjects=args.subjects, n_runs=2, n_timepoints=args.timepoints, seed=0,
                      progress=False)
    recoveries, ablations, fits = [], [], []
    for seed in args.seeds:
        tic = time.perf_counter()
        config = parse_config({
            "name": "recovery", "seed": seed,
            "data": {"bids": str(ds.root), "task": "movie", "prepared": str(work / "prepared.zarr")},
            "movies": [{"run": str(r), "path": str(p)} for r, p in ds.movies.items()],
            "models": [{"name": "efficientnet_lite0", "weights": "imagenet", "layers": ["block3", "last_conv"]}],
            "embedding": {"method": "pca", "n_networks": args.k[0], "n_epochs": args.epochs},
            "pairing": {"hrf": "glover"},
            "sweep": {"methods": METHODS, "n_networks": args.k},
        })
        result = run_experiment(config, work / f"run-{seed}", progress=False)
        comp = result.comparison
        recoveries.append(comp.recovery.assign(seed=seed))
        ablations.append(comp.ablation.assign(seed=seed))
        fits.append(comp.fits.assign(seed=seed))
        print(f"seed {seed}: {time.perf_counter() - tic:.0f} s")
    recovery = pd.concat(recoveries, ignore_index=True)
    per_seed = (recovery.groupby(["method", "n_networks", "kind", "seed"], sort=False)[["spatial_r", "temporal_r"]]
                .mean().reset_index())
    summary = per_seed.groupby(["method", "n_networks", "kind"], sort=False).agg(
        spatial_r=("spatial_r", "mean"), spatial_min=("spatial_r", "min"), spatial_max=("spatial_r", "max"),
        temporal_r=("temporal_r", "mean"), temporal_min=("temporal_r", "min"), temporal_max=("temporal_r", "max"),
    ).reset_index()
    ablation = pd.concat(ablations, ignore_index=True)
    ablation_summary = ablation.groupby(["method", "n_networks"], sort=False)[["pcc", "mae", "mse", "rmse", "dtw"]].mean()
    fit_summary = pd.concat(fits, ignore_index=True).groupby(["method", "n_networks"], sort=False)["fit_seconds"].mean()
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    print(ablation_summary.round(3).to_string())
    print(fit_summary.round(1).to_string())
    report = {"args": vars(args), "recovery": summary.to_dict(orient="records"),
              "ablation": ablation_summary.reset_index().to_dict(orient="records"),
              "fit_seconds": fit_summary.reset_index().to_dict(orient="records")}
    print("record:", write_record(args.out, "recovery", report))


if __name__ == "__main__":
    main()
