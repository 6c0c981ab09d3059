"""Parametric significance of a correlation between autocorrelated series: effective degrees of freedom.

Two autocorrelated series have fewer independent samples than time points. Bartlett's (1935)
variance of the correlation of two independent series, with the lag weights and the lag cut-off of
Pyper & Peterman (1998), gives the effective sample size

    1 / N_eff = 1 / N + (2 / N) * sum_{k=1}^{N/5} ((N - k) / N) * rho_x(k) * rho_y(k),

with ``rho`` the sample autocorrelations. The p-value is then Pearson's t test with ``N_eff - 2``
degrees of freedom. It corrects for autocorrelation, not for picking the best of F candidates: that is
what the max-statistic shift test (``p_shift``) adds.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import stats

from syncact.sync.correlation import fft_workers


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of each column at lags 1..max_lag (biased estimator, by FFT).

    Parameters
    ----------
    x : ndarray of shape (n_timepoints, n_series)
    max_lag : int

    Returns
    -------
    ndarray of shape (max_lag, n_series)
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    centered = np.ascontiguousarray((x - x.mean(axis=0)).T)  # series along the last axis: contiguous transforms
    size = scipy.fft.next_fast_len(n + max_lag, real=True)  # zero padding past max_lag: no lag <= max_lag wraps
    workers = fft_workers()
    spectrum = scipy.fft.rfft(centered, n=size, axis=-1, workers=workers)
    power = spectrum.real**2 + spectrum.imag**2
    acov = scipy.fft.irfft(power, n=size, axis=-1, workers=workers)[:, : max_lag + 1].T
    return acov[1:] / np.where(acov[0] > 0, acov[0], 1.0)


def effective_n(acf_x: np.ndarray, acf_y: np.ndarray, n: int) -> np.ndarray:
    """Effective sample size of the correlation of series pairs (Bartlett; Pyper & Peterman weights).

    Parameters
    ----------
    acf_x, acf_y : ndarray of shape (max_lag, n_pairs)
        Autocorrelations of the two members of each pair at lags 1..max_lag.
    n : int
        Number of time points.

    Returns
    -------
    ndarray of shape (n_pairs,)
        Between 3 and ``n``.
    """
    lags = np.arange(1, acf_x.shape[0] + 1)
    weights = ((n - lags) / n)[:, None]
    inverse = 1.0 / n + (2.0 / n) * np.sum(weights * acf_x * acf_y, axis=0)
    return np.clip(1.0 / np.maximum(inverse, 1e-12), 3.0, float(n))


def t_p_value(r: np.ndarray, n: np.ndarray, alternative: str = "two-sided") -> np.ndarray:
    """p-value of Pearson's r with ``n`` (effective) samples: t test with ``n - 2`` degrees of freedom.

    ``alternative`` is ``"two-sided"`` (``|r|`` as large) or ``"greater"`` (r as large, positive coupling).
    """
    r = np.clip(np.asarray(r, dtype=np.float64), -1 + 1e-15, 1 - 1e-15)
    dof = np.asarray(n, dtype=np.float64) - 2
    t = r * np.sqrt(dof / (1 - r**2))
    if alternative == "greater":
        return stats.t.sf(t, dof)
    return 2 * stats.t.sf(np.abs(t), dof)


def edf_p_value(r: np.ndarray, n_eff: np.ndarray, alternative: str = "two-sided") -> np.ndarray:
    """p-value of Pearson's r with ``n_eff`` effective samples (t test, ``n_eff - 2`` dof; see :func:`t_p_value`)."""
    return t_p_value(r, n_eff, alternative)


def naive_p_value(r: np.ndarray, n: int, alternative: str = "two-sided") -> np.ndarray:
    """Parametric p-value of Pearson's r for ``n`` independent samples (as scipy's pearsonr)."""
    return t_p_value(r, np.full(np.shape(r), float(n)), alternative)
