"""Encoding cost: syncact's fit_encoding beside himalaya called directly on the same arrays and folds, and
beside scikit-learn's RidgeCV fitted per band (no banded search), measured side by side in one run.

Run:  .venv/bin/python benchmarks/bench_encoding.py [--timepoints 200] [--runs 2] [--voxels 4096] [--out DIR]

Random features shaped like two layers of EfficientNet-Lite0 after PCA (64 components x 4 delays per band)
and voxels driven by one band each plus noise; every fit uses the same alphas, band-weight candidates and
leave-one-run-out folds. Reports seconds, the ratios (syncact / himalaya alone: the wrapper's overhead;
scikit-learn / syncact), and peak memory.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _harness import peak_gb, write_record

from syncact.encoding import band_features, fit_encoding
from syncact.encoding.model import DEFAULT_ALPHAS, _inner_cv


def himalaya_alone(bands: dict[str, list[np.ndarray]], targets: list[np.ndarray], n_iter: int) -> float:
    """The same leave-one-run-out fits with himalaya's kernel solver called directly (no chunks, no scores split)."""
    from himalaya.kernel_ridge import MultipleKernelRidgeCV

    tic = time.perf_counter()
    names, n = list(bands), len(targets)
    for held in range(n):
        kept = [i for i in range(n) if i != held]
        train = [np.concatenate([bands[b][i] for i in kept]) for b in names]
        test = [bands[b][held] for b in names]
        y = np.concatenate([targets[i] for i in kept])
        model = MultipleKernelRidgeCV(kernels="precomputed", cv=_inner_cv([len(targets[i]) for i in kept]), random_state=0,
                                      solver_params={"alphas": DEFAULT_ALPHAS, "n_iter": n_iter, "progress_bar": False})
        model.fit(np.stack([x @ x.T for x in train]), y)
        model.predict(np.stack([t @ x.T for t, x in zip(test, train, strict=True)]), split=True)
    return time.perf_counter() - tic


def sklearn_per_band(bands: dict[str, list[np.ndarray]], targets: list[np.ndarray]) -> float:
    """scikit-learn's RidgeCV (efficient leave-one-out over alphas) fitted on each band separately, per fold."""
    from sklearn.linear_model import RidgeCV

    tic = time.perf_counter()
    n = len(targets)
    for held in range(n):
        kept = [i for i in range(n) if i != held]
        y = np.concatenate([targets[i] for i in kept])
        for runs in bands.values():
            model = RidgeCV(alphas=DEFAULT_ALPHAS, fit_intercept=False, alpha_per_target=True)
            model.fit(np.concatenate([runs[i] for i in kept]), y)
            model.predict(runs[held])
    return time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timepoints", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--voxels", type=int, default=4096)
    parser.add_argument("--n-iter", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    raw = {name: [rng.standard_normal((args.timepoints, 64)) for _ in range(args.runs)] for name in ("block3", "last_conv")}
    bands = band_features(raw, [2, 3, 4, 5])
    weights = {name: rng.standard_normal((bands[name][0].shape[1], args.voxels)) / 16 for name in bands}
    half = args.voxels // 2
    targets = []
    for i in range(args.runs):
        y = np.concatenate([bands["block3"][i] @ weights["block3"][:, :half],
                            bands["last_conv"][i] @ weights["last_conv"][:, half:]], axis=1)
        y = (y - y.mean(0)) / y.std(0)
        targets.append(y + 2 * rng.standard_normal(y.shape))
    targets = [(y - y.mean(0)) / y.std(0) for y in targets]
    fit_encoding(bands, [t[:, :64] for t in targets], n_iter=2)  # imports and warm-up, not timed
    tic = time.perf_counter()
    scores = fit_encoding(bands, targets, n_iter=args.n_iter, chunk_size=args.voxels, solver="dual")
    ours = time.perf_counter() - tic
    alone = himalaya_alone(bands, targets, args.n_iter)
    sklearn = sklearn_per_band(bands, targets)
    winners = scores.winner()
    right = float(np.mean(np.concatenate([winners[:half] == 0, winners[half:] == 1])))
    print(f"syncact {ours:.1f} s, himalaya alone {alone:.1f} s (overhead {ours / alone:.2f}x), scikit-learn RidgeCV "
          f"per band {sklearn:.1f} s ({sklearn / ours:.2f}x ours); planted band wins {right:.2f}; peak {peak_gb():.2f} GB")
    path = write_record(args.out, "encoding", {
        "timepoints": args.timepoints, "runs": args.runs, "voxels": args.voxels, "n_iter": args.n_iter,
        "features_per_band": bands["block3"][0].shape[1], "syncact_s": ours, "himalaya_s": alone,
        "sklearn_per_band_s": sklearn, "overhead": ours / alone, "sklearn_ratio": sklearn / ours,
        "planted_band_wins": right, "mean_r": float(scores.mean_r.mean()), "peak_gb": peak_gb()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
