"""Pearson correlation between two sets of time series, at lag 0 and at every circular lag.

Everything is computed in float64 from standardised series: ``r = (Xs.T @ Ys) / T`` with ``Xs`` and
``Ys`` z-scored (population standard deviation), which equals ``scipy.stats.pearsonr``.

The circular-shift null of the pairing needs, at every lag, the best correlation of each FBN over all
filters and of each filter over all FBNs, never the ``n_x x n_y x T`` cube itself. :func:`circular_max`
reduces the cube block by block while the block's inverse transforms are still in cache, so its cost is
that of the ``n_x * n_y`` inverse FFTs (the roofline in docs/statistics.md, ``benchmarks/bench_pairing.py``).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.fft

from syncact._validation import check_2d, check_not_constant, check_same_length


def standardize(x: np.ndarray, name: str = "x") -> np.ndarray:
    """Z-score each column of ``x`` (float64, population std).

    Parameters
    ----------
    x : ndarray of shape (n_timepoints, n_series)

    Returns
    -------
    ndarray of shape (n_timepoints, n_series), float64

    Raises
    ------
    DataError
        If a column is constant (its correlation is undefined).
    """
    x = check_2d(name, x)
    check_not_constant(name, x, fix="drop constant series (e.g. dead filters) before pairing")
    centered = x - x.mean(axis=0)
    return centered / np.sqrt((centered**2).mean(axis=0))


def pearson_matrix(x: np.ndarray, y: np.ndarray, *, constant: str = "raise") -> np.ndarray:
    """Pearson correlation of every column of ``x`` with every column of ``y``.

    Parameters
    ----------
    x : ndarray of shape (n_timepoints, n_x)
    y : ndarray of shape (n_timepoints, n_y)
    constant : {"raise", "nan"}, default="raise"
        A constant column has no correlation: raise a DataError naming it, or give NaN for it (for
        maps of methods that can return empty networks).

    Returns
    -------
    ndarray of shape (n_x, n_y), float64
    """
    if constant == "nan":
        xa, ya = check_2d("x", x), check_2d("y", y)
        check_same_length("x", xa, "y", ya)
        live_x, live_y = xa.std(axis=0) > 0, ya.std(axis=0) > 0
        out = np.full((xa.shape[1], ya.shape[1]), np.nan)
        if live_x.any() and live_y.any():
            out[np.ix_(live_x, live_y)] = pearson_matrix(xa[:, live_x], ya[:, live_y])
        return out
    xs, ys = standardize(x, "x"), standardize(y, "y")
    check_same_length("x", xs, "y", ys)
    return np.clip(xs.T @ ys / xs.shape[0], -1.0, 1.0)


def circular_correlation(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Correlation of standardised columns at every circular lag, by FFT.

    ``out[i, j, s] = mean_t xs[(t + s) % T, i] * ys[t, j]``, i.e. the correlation of ``ys[:, j]``
    with ``xs[:, i]`` rolled back by ``s`` samples (a circular shift keeps mean and variance, so this is
    Pearson's r of the shifted pair).

    Parameters
    ----------
    xs : ndarray of shape (n_timepoints, n_x), standardised
    ys : ndarray of shape (n_timepoints, n_y), standardised

    Returns
    -------
    ndarray of shape (n_x, n_y, n_timepoints), float64
        Memory: 8 * n_x * n_y * n_timepoints bytes; call on blocks of columns to bound it.
    """
    n = xs.shape[0]
    fx = np.fft.rfft(xs, axis=0)  # (F, n_x)
    fy = np.fft.rfft(ys, axis=0)  # (F, n_y)
    cross = fx.T[:, None, :] * np.conj(fy.T)[None, :, :]  # (n_x, n_y, F)
    return np.fft.irfft(cross, n, axis=-1) / n


_CACHE_BYTES = 2 * 2**20  # one block of the correlation cube: inverse transforms and reductions stay in L2/L3
_ROWS_PER_BLOCK = 8


def fft_workers() -> int:
    """Threads for the pairing's FFTs: ``OMP_NUM_THREADS`` when set (Dask workers set it to 1), else every CPU.

    Returns
    -------
    int
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def circular_max(xs: np.ndarray, ys: np.ndarray, lags: slice, *, absolute: bool = False,
                 workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best correlation at every circular lag, over the columns of ``ys`` and over those of ``xs``.

    The reductions of :func:`circular_correlation` the pairing's shift null needs, without the cube:
    ``best_y[i, s] = max_j c[i, j, s]`` and ``best_x[j, s] = max_i c[i, j, s]`` for the lags ``s`` in
    ``lags``, with ``c`` as in :func:`circular_correlation` (``|c|`` when ``absolute``). The cross-spectra
    and their inverse transforms are made in blocks of about 2 MB and reduced while in cache; the columns
    of ``xs`` are split over ``workers`` threads (numpy and pocketfft release the GIL), each reducing its
    own ``best_x``, and those are reduced at the end. The result does not depend on ``workers``.

    Parameters
    ----------
    xs : ndarray of shape (n_timepoints, n_x), standardised
    ys : ndarray of shape (n_timepoints, n_y), standardised
    lags : slice
        Lags kept, e.g. ``slice(min_shift, T - min_shift + 1)``.
    absolute : bool, default=False
        Reduce ``|c|`` (two-sided tests).
    workers : int, optional
        Threads (default :func:`fft_workers`).

    Returns
    -------
    best_y : ndarray of shape (n_x, n_lags), float64
    best_x : ndarray of shape (n_y, n_lags), float64
    """
    n = xs.shape[0]
    workers = max(1, min(fft_workers() if workers is None else int(workers), xs.shape[1]))
    fx = scipy.fft.rfft(np.ascontiguousarray(xs.T), axis=-1, workers=workers)  # (n_x, n_freq)
    fy = np.conj(scipy.fft.rfft(np.ascontiguousarray(ys.T), axis=-1, workers=workers))  # (n_y, n_freq)
    edges = np.linspace(0, fx.shape[0], workers + 1).astype(int)
    chunks = [(fx[lo:hi], fy, n, lags, absolute) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    if workers == 1:
        parts = [_circular_max_rows(*chunks[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda args: _circular_max_rows(*args), chunks))
    best_y = np.concatenate([part[0] for part in parts])
    best_x = parts[0][1]
    for part in parts[1:]:
        np.maximum(best_x, part[1], out=best_x)
    return best_y / n, best_x / n


def _circular_max_rows(fx: np.ndarray, fy: np.ndarray, n: int, lags: slice, absolute: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`circular_max` (times ``n``) of some rows' spectra ``fx`` (rows, n_freq) against the conjugate spectra ``fy``
    (n_y, n_freq), in one thread."""
    n_lags = len(range(n)[lags])
    best_y = np.full((fx.shape[0], n_lags), -np.inf)
    best_x = np.full((fy.shape[0], n_lags), -np.inf)
    rows = min(_ROWS_PER_BLOCK, fx.shape[0])
    cols = max(1, _CACHE_BYTES // (8 * n * rows))
    buffer = np.empty((rows, cols, fx.shape[1]), dtype=np.result_type(fx, fy))  # one allocation, reused in cache
    for i in range(0, fx.shape[0], rows):
        for j in range(0, fy.shape[0], cols):
            x, y = fx[i : i + rows, None, :], fy[None, j : j + cols, :]
            cross = np.multiply(x, y, out=buffer[: x.shape[0], : y.shape[1]])
            c = scipy.fft.irfft(cross, n, axis=-1, workers=1)[:, :, lags]
            if absolute:
                np.abs(c, out=c)
            np.maximum(best_y[i : i + rows], c.max(axis=1), out=best_y[i : i + rows])
            np.maximum(best_x[j : j + cols], c.max(axis=0), out=best_x[j : j + cols])
    return best_y, best_x
