"""Pairing benchmark at paper scale: K = 64 FBNs, F = 2048 filters, T = 900 time points, every circular shift.

Run:  .venv/bin/python benchmarks/bench_pairing.py [--k 64] [--f 2048] [--t 900] [--phase 50]

Measured in one child process (peak memory = its maximum resident set):

* ``pair`` with ``min_shift=1``: the observed K x F correlations, Eq.1/Eq.2, naive / effective-dof
  p-values and the max-statistic shift null over all T - 1 shifts (899 nulls), computed by FFT in blocks.
* The floor the issue names: the same nulls as dense products, one (T x K)^T (T x F) product per shift,
  timed over 20 shifts and scaled to all of them.
* A loop of ``scipy.stats.pearsonr`` over the K x F observed pairs (timed over 2,000 pairs and scaled),
  against ``pearson_matrix`` for the same correlations.
* The phase-randomisation null with ``--phase`` surrogates (each one is a dense K x F product), scaled
  to 1,000 surrogates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import peak_gb, run_child, serve_child, write_record


def _series(rng: np.random.Generator, t: int, m: int) -> np.ndarray:
    kernel = np.hanning(7) / np.hanning(7).sum()
    return np.apply_along_axis(np.convolve, 0, rng.standard_normal((t, m)), kernel, mode="same")


def child(k: int, f: int, t: int, phase: int) -> dict:
    from scipy import stats

    from syncact.sync import pair, pearson_matrix, standardize

    rng = np.random.default_rng(0)
    fbn, filters = _series(rng, t, k), _series(rng, t, f)
    tic = time.perf_counter()
    result = pair(fbn, filters, min_shift=1)
    pair_s = time.perf_counter() - tic
    n_lags = result.params["n_lags"]

    b, a = standardize(fbn), standardize(filters)
    tic = time.perf_counter()
    for lag in range(1, 21):
        np.roll(b, lag, axis=0).T @ a / t
    floor_s = (time.perf_counter() - tic) / 20 * n_lags

    tic = time.perf_counter()
    for i in range(2000):
        stats.pearsonr(fbn[:, i % k], filters[:, i % f])
    loop_s = (time.perf_counter() - tic) / 2000 * k * f
    tic = time.perf_counter()
    pearson_matrix(fbn, filters)
    matrix_s = time.perf_counter() - tic

    phase_s = None
    if phase:
        tic = time.perf_counter()
        pair(fbn, filters)
        without = time.perf_counter() - tic
        tic = time.perf_counter()
        pair(fbn, filters, n_phase=phase)
        phase_s = (time.perf_counter() - tic - without) / phase * 1000
    return {"pair_s": pair_s, "n_lags": n_lags, "dense_floor_s": floor_s, "pair_over_floor": pair_s / floor_s,
            "pearsonr_loop_s": loop_s, "pearson_matrix_s": matrix_s, "loop_over_matrix": loop_s / matrix_s,
            "phase_1000_s": phase_s, "peak_gb": peak_gb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--f", type=int, default=2048)
    parser.add_argument("--t", type=int, default=900)
    parser.add_argument("--phase", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        serve_child(args.child, {"pair": child})
        return
    row = run_child(__file__, "pair", k=args.k, f=args.f, t=args.t, phase=args.phase)
    print(f"pair (K={args.k}, F={args.f}, T={args.t}, {row['n_lags']} shift nulls): {row['pair_s']:.2f} s, "
          f"peak {row['peak_gb']:.2f} GB")
    print(f"dense-product floor for the same nulls: {row['dense_floor_s']:.1f} s -> pair takes "
          f"{row['pair_over_floor']:.3f}x the floor")
    print(f"pearsonr loop over K x F: {row['pearsonr_loop_s']:.1f} s vs pearson_matrix {row['pearson_matrix_s']:.3f} s "
          f"= {row['loop_over_matrix']:.0f}x")
    if row["phase_1000_s"] is not None:
        print(f"phase null, 1,000 surrogates (scaled from {args.phase}): {row['phase_1000_s']:.0f} s")
    print("record:", write_record(args.out, "pairing", {"args": vars(args), **row}))


if __name__ == "__main__":
    main()
