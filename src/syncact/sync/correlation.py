"""Pearson correlation between two sets of time series, at lag 0 and at every circular lag.

Everything is computed in float64 from standardised series: ``r = (Xs.T @ Ys) / T`` with ``Xs`` and
``Ys`` z-scored (population standard deviation), which equals ``scipy.stats.pearsonr``.
"""

from __future__ import annotations

import numpy as np

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
