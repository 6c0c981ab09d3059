"""Pairing benchmark at paper scale: K = 64 FBNs, F = 2048 filters, T = 900 time points, every circular shift.

Run:  .venv/bin/python benchmarks/bench_pairing.py [--k 64] [--f 2048] [--t 900] [--phase 50]

Measured in one child process (peak memory = its maximum resident set), ``pair`` as the median of 5 calls:

* ``pair`` with ``min_shift=1``: the observed K x F correlations, Eq.1/Eq.2, naive / effective-dof
  p-values and the max-statistic shift null over all T - 1 shifts (899 nulls), computed by FFT in blocks.
* Its roofline, from rates measured in the same process: the shift null needs the K x F cross-spectra and
  K x F inverse real FFTs of length T (5/2 T log2 T flops each), then two max-reductions; inputs and outputs
  are (T + n_lags) x (K + F) numbers, so the bytes that must cross memory are a few MB and the bound is the
  FFTs: K x F / (inverse transforms per second of scipy.fft on a cache-sized batch, best over 1 and all
  threads). Memory bandwidth (a 256 MB copy) gives the bytes term, and what materialising the cube would cost.
* The algorithm before (the K x F x T cube made in 256 MB blocks of FBNs, then reduced), timed side by side.
* The same nulls as dense products, one (T x K)^T (T x F) product per shift, timed over 20 shifts and scaled
  to all of them.
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


def _rates(t: int) -> dict:
    """Measured here: inverse real FFTs of length t per second (cache-sized batch, best over 1 and all threads) and
    memory bandwidth (GB/s, reading and writing a 256 MB array)."""
    import scipy.fft

    from syncact.sync import fft_workers

    rng = np.random.default_rng(1)
    batch = max(1, 2 * 2**20 // (8 * t))
    spectra = scipy.fft.rfft(rng.standard_normal((batch, t)), axis=-1)
    best = {}
    for workers in sorted({1, fft_workers()}):
        scipy.fft.irfft(spectra, t, axis=-1, workers=workers)
        reps, tic = 0, time.perf_counter()
        while time.perf_counter() - tic < 1.0:
            scipy.fft.irfft(spectra, t, axis=-1, workers=workers)
            reps += 1
        best[workers] = reps * batch / (time.perf_counter() - tic)
    src = np.ones(2**25)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    tic = time.perf_counter()
    for _ in range(5):
        np.copyto(dst, src)
    bandwidth = 5 * 2 * src.nbytes / (time.perf_counter() - tic) / 1e9
    return {"irfft_per_s": max(best.values()), "irfft_per_s_by_threads": best, "bandwidth_gb_s": bandwidth}


def _cube_null(b: np.ndarray, a: np.ndarray, lags: np.ndarray) -> None:
    """The shift null as it was computed before: the correlation cube in 256 MB blocks of FBNs, then reduced."""
    from syncact.sync import circular_correlation

    n, f = a.shape
    block = max(1, int(256 * 2**20 // (8 * f * n)))
    null_eq1 = np.full((f, lags.size), -np.inf)
    for start in range(0, b.shape[1], block):
        c = circular_correlation(b[:, start : start + block], a)[:, :, lags]
        c.max(axis=1)
        np.maximum(null_eq1, c.max(axis=0), out=null_eq1)


def child(k: int, f: int, t: int, phase: int) -> dict:
    from scipy import stats

    from syncact.sync import pair, pearson_matrix, standardize

    rng = np.random.default_rng(0)
    fbn, filters = _series(rng, t, k), _series(rng, t, f)
    pair(fbn, filters, min_shift=1)  # imports, FFT plans and the allocator warmed, outside the timings (as the rates)
    times = []
    for _ in range(5):  # the median of 5: this machine is shared
        tic = time.perf_counter()
        result = pair(fbn, filters, min_shift=1)
        times.append(time.perf_counter() - tic)
    pair_s = float(np.median(times))
    pair_peak_gb = peak_gb()  # before anything else here allocates
    n_lags = result.params["n_lags"]

    rates = _rates(t)
    fft_flops = k * f * 2.5 * t * np.log2(t)
    roofline = {"fft_s": k * f / rates["irfft_per_s"],
                "bytes": 8 * (t + n_lags) * (k + f),  # read the series, write the two nulls
                "cube_bytes": 3 * 8 * k * f * t,  # a cube made in memory is written, copied to its lags and read
                "flops": fft_flops + 6 * k * f * (t // 2 + 1) + 2 * k * f * n_lags}
    roofline["bytes_s"] = roofline["bytes"] / rates["bandwidth_gb_s"] / 1e9
    roofline["cube_bytes_s"] = roofline["cube_bytes"] / rates["bandwidth_gb_s"] / 1e9
    roofline["s"] = max(roofline["fft_s"], roofline["bytes_s"])

    b, a = standardize(fbn), standardize(filters)
    tic = time.perf_counter()
    _cube_null(b, a, np.arange(1, t))
    cube_s = time.perf_counter() - tic
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
    return {"pair_s": pair_s, "pair_s_runs": times, "pair_peak_gb": pair_peak_gb, "n_lags": n_lags, "rates": rates, "roofline": roofline,
            "pair_over_roofline": pair_s / roofline["s"], "fft_gflop_s": fft_flops / pair_s / 1e9,
            "cube_null_s": cube_s, "dense_floor_s": floor_s, "pair_over_floor": pair_s / floor_s,
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
          f"peak {row['pair_peak_gb']:.2f} GB")
    roof = row["roofline"]
    print(f"roofline: {args.k} x {args.f} inverse FFTs at {row['rates']['irfft_per_s']:,.0f}/s = "
          f"{roof['fft_s']:.3f} s; {roof['bytes'] / 1e6:.1f} MB at {row['rates']['bandwidth_gb_s']:.1f} GB/s = "
          f"{roof['bytes_s'] * 1e3:.2f} ms -> pair takes {row['pair_over_roofline']:.2f}x the roofline (bar 3x)")
    print(f"the cube made and reduced (before): {row['cube_null_s']:.2f} s; dense products per shift: "
          f"{row['dense_floor_s']:.1f} s ({row['pair_over_floor']:.3f}x)")
    print(f"pearsonr loop over K x F: {row['pearsonr_loop_s']:.1f} s vs pearson_matrix {row['pearson_matrix_s']:.3f} s "
          f"= {row['loop_over_matrix']:.0f}x")
    if row["phase_1000_s"] is not None:
        print(f"phase null, 1,000 surrogates (scaled from {args.phase}): {row['phase_1000_s']:.0f} s")
    print("record:", write_record(args.out, "pairing", {"args": vars(args), **row}))


if __name__ == "__main__":
    main()
