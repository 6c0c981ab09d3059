"""Calibration of the per-pair circular-shift test across run lengths and numbers of FBNs.

Run:  .venv/bin/python benchmarks/bench_calibration_grid.py [--datasets 100] [--lengths 150 300 600 900] [--k 16 64]

The null of the mismatched-movie control, made systematic: every FBN is driven by a random filter of
*another* movie (HRF-convolved, plus AR(1) noise), and paired with this movie's filters (EfficientNet-Lite0
``block3`` and ``last_conv``, real activations of movies rendered by the embedded-dataset generator, 6
movies of the longest length; shorter runs are their first T seconds). Every call of the shift test is a
false positive. For each run length T, number of FBNs K and layer, the record holds the per-pair rate at
alpha = 0.05 with its binomial standard error and its error clustered by movie pair (the honest one: the
tests of one movie pair are correlated), and the rate of the mean-PCC test. The target of the issue
is [0.03, 0.07] per cell; ``syncact.sync.pair`` warns below the length where it was not held.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _harness import peak_gb, write_record
from bench_calibration import LAYERS, TR, _noise, load_movies

from syncact.simulate.bold import bold_timecourse
from syncact.sync import pair


def cluster_se(calls: np.ndarray, n: np.ndarray) -> float:
    """Standard error of ``sum(calls) / sum(n)`` with the pairs of one movie pair as a cluster.

    The K FBNs of a dataset share a movie and the datasets share 30 ordered movie pairs, so their tests
    are not independent: the binomial error (``shift_se``) is too small. This is the ratio estimator's
    cluster-robust (sandwich) error with the small-sample factor G / (G - 1).
    """
    rate = calls.sum() / n.sum()
    g = len(calls)
    return float(np.sqrt(g / (g - 1) * np.sum((calls - rate * n) ** 2)) / n.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=100, help="simulated datasets per cell")
    parser.add_argument("--lengths", type=int, nargs="+", default=[150, 300, 600, 900])
    parser.add_argument("--k", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--keep-movies", type=Path, help="an .npz that keeps the movies' activations between runs")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    tic = time.perf_counter()
    movies = load_movies(max(args.lengths), args.keep_movies)
    setup_s = time.perf_counter() - tic
    rows = []
    tic = time.perf_counter()
    for t in args.lengths:
        for k in args.k:
            for layer in LAYERS:
                rng = np.random.default_rng(11)
                mean_calls = 0
                per_pair: dict[tuple[int, int], list[int]] = {}  # (movie, other movie) -> [calls, pairs]
                for _ in range(args.datasets):
                    a, b = rng.choice(len(movies), size=2, replace=False)
                    filters, other = movies[a][layer][:t], movies[b][layer][:t]
                    keep = (filters.std(axis=0) > 1e-8)
                    picks = rng.choice(np.flatnonzero(other.std(axis=0) > 1e-8), size=k, replace=False)
                    fbn = np.column_stack([bold_timecourse(other[:, j], TR) for j in picks]) + 0.5 * _noise(rng, t, k)
                    p = pair(fbn, filters[:, keep])
                    counts = per_pair.setdefault((int(a), int(b)), [0, 0])
                    counts[0] += int(p.eq2["significant"].sum())
                    counts[1] += k
                    mean_calls += p.mean_p_shift < 0.05
                calls, n = np.array(list(per_pair.values())).T
                rate = calls.sum() / n.sum()
                rows.append({"n_timepoints": t, "K": k, "layer": layer, "n_pairs": int(n.sum()), "shift_rate": rate,
                             "shift_se": float(np.sqrt(rate * (1 - rate) / n.sum())),
                             "shift_se_movies": cluster_se(calls, n), "n_movie_pairs": len(calls),
                             "mean_pcc_rate": mean_calls / args.datasets})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["within_target"] = table["shift_rate"].between(0.03, 0.07)
    # the rate's distance from alpha in units of its movie-clustered standard error
    table["z_vs_alpha"] = (table["shift_rate"] - 0.05) / table["shift_se_movies"]
    meta = {"setup_s": setup_s, "loop_s": time.perf_counter() - tic, "peak_gb": peak_gb(), "n_datasets": args.datasets}
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("record:", write_record(args.out, "calibration-grid", {"meta": meta, "table": table.to_dict(orient="records")}))


if __name__ == "__main__":
    main()
