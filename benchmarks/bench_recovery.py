"""Recovery of the planted networks by every embedding variant and baseline, on the embedded dataset.

Run:  .venv/bin/python benchmarks/bench_recovery.py [--seeds 0 1 2] [--k 16 32] [--subjects 10] [--timepoints 200]

The demo's dataset (planted maps and stimulus-driven time courses, see docs/embedded-dataset.md) is
generated once; the pipeline then runs with a ``[sweep]`` of LT, LT+LSTM, LT+MSA, CanICA, DictLearning,
PCA and SRM at each K, once per seed (the seed sets the subject split and the initialisations), with the
embedding identified (``identify = "ica"``, the default), and once more per seed with the paper's raw
weights (``identify = "none"``, Sync-ACT variants only). For every fit the record holds, per planted
network, the best spatial correlation of its map with an FBN map, the span correlation (how well all
the FBN maps together hold it) and, for driven networks, the best temporal correlation of its BOLD with
a test-mean FBN activation; the ablation metrics and the share of significant Eq.2 pairs; and the
stability across seeds: the Hungarian-matched spatial r between the maps of every two seeds.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
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
    parser.add_argument("--identify", nargs="+", default=["ica", "none"], choices=["ica", "none"])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    from syncact.config import parse_config
    from syncact.experiment import run_experiment
    from syncact.simulate import make_dataset

    work = Path(tempfile.mkdtemp(prefix="syncact-recovery-"))
    ds = make_dataset(work / "data", n_subjects=args.subjects, n_runs=2, n_timepoints=args.timepoints, seed=0,
                      progress=False)
    from nilearn.masking import apply_mask

    from syncact.analysis import match_networks
    from syncact.brain import PreparedStore

    recoveries, ablations, fits, sweeps, maps = [], [], [], [], {}
    for identify in args.identify:
        methods = METHODS if identify == "ica" else [m for m in METHODS if m.startswith("lt")]
        for seed in args.seeds:
            tic = time.perf_counter()
            config = parse_config({
                "name": "recovery", "seed": seed,
                "data": {"bids": str(ds.root), "task": "movie", "prepared": str(work / "prepared.zarr")},
                "movies": [{"run": str(r), "path": str(p)} for r, p in ds.movies.items()],
                "models": [{"name": "efficientnet_lite0", "weights": "imagenet", "layers": ["block3", "last_conv"]}],
                "embedding": {"method": "pca", "n_networks": args.k[0], "n_epochs": args.epochs, "identify": identify},
                "pairing": {"hrf": "glover"},
                "sweep": {"methods": methods, "n_networks": args.k},
            })
            run_dir = work / f"run-{identify}-{seed}"
            result = run_experiment(config, run_dir, progress=False)
            comp = result.comparison
            keys = {"seed": seed, "identify": identify}
            recoveries.append(comp.recovery.assign(**keys))
            ablations.append(comp.ablation.assign(**keys))
            fits.append(comp.fits.assign(**keys))
            sweeps.append(comp.k_sweep.assign(**keys))
            mask = PreparedStore(work / "prepared.zarr").mask_img()
            for method in methods:
                for k in args.k:
                    maps[(identify, method, k, seed)] = apply_mask(run_dir / "sweep" / f"maps_{method}_K{k}.nii.gz", mask)
            print(f"identify={identify} seed {seed}: {time.perf_counter() - tic:.0f} s", flush=True)
    group = ["identify", "method", "n_networks"]
    recovery = pd.concat(recoveries, ignore_index=True)
    per_seed = (recovery.groupby([*group, "kind", "seed"], sort=False)[["spatial_r", "span_r", "temporal_r"]]
                .mean().reset_index())
    summary = per_seed.groupby([*group, "kind"], sort=False).agg(
        spatial_r=("spatial_r", "mean"), spatial_min=("spatial_r", "min"), spatial_max=("spatial_r", "max"),
        span_r=("span_r", "mean"),
        temporal_r=("temporal_r", "mean"), temporal_min=("temporal_r", "min"), temporal_max=("temporal_r", "max"),
    ).reset_index()
    networks = recovery.groupby(group, sort=False).agg(median_spatial_r=("spatial_r", "median"),
                                                       min_spatial_r=("spatial_r", "min")).reset_index()
    ablation = pd.concat(ablations, ignore_index=True)
    ablation_summary = ablation.groupby(group, sort=False)[["pcc", "mae", "mse", "rmse", "dtw"]].mean()
    sweep = pd.concat(sweeps, ignore_index=True)
    sweep["share_significant"] = sweep["n_significant"] / sweep["n_networks"]
    pairing = sweep.groupby(group, sort=False)[["mean_pcc", "share_significant"]].mean()
    fit_summary = pd.concat(fits, ignore_index=True).groupby(group, sort=False)["fit_seconds"].mean()
    stability = []
    for (identify, method, k, seed), a in maps.items():
        for other in args.seeds:
            if other > seed and (identify, method, k, other) in maps:
                m = match_networks(a, maps[(identify, method, k, other)])
                stability.append({"identify": identify, "method": method, "n_networks": k, "seeds": f"{seed}-{other}",
                                  "mean_r": float(np.nanmean(m.r)), "top7_mean_r": float(np.sort(m.r)[::-1][:7].mean()),
                                  "n_above_0.9": int((m.r >= 0.9).sum())})
    stability = pd.DataFrame(stability)
    stability_summary = stability.groupby(group, sort=False)[["mean_r", "top7_mean_r", "n_above_0.9"]].mean()
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(index=False))
    print(networks.round(3).to_string(index=False))
    print(pairing.round(3).to_string())
    print(stability_summary.round(3).to_string())
    print(ablation_summary.round(3).to_string())
    print(fit_summary.round(1).to_string())
    report = {"args": vars(args), "recovery": summary.to_dict(orient="records"),
              "networks": networks.to_dict(orient="records"),
              "pairing": pairing.reset_index().to_dict(orient="records"),
              "stability": stability_summary.reset_index().to_dict(orient="records"),
              "ablation": ablation_summary.reset_index().to_dict(orient="records"),
              "fit_seconds": fit_summary.reset_index().to_dict(orient="records")}
    print("record:", write_record(args.out, "recovery", report))
    shutil.rmtree(work, ignore_errors=True)  # the dataset and six run directories: several GB


if __name__ == "__main__":
    main()
