"""Canonical haemodynamic response (nilearn's Glover or SPM model) applied to time series."""

from __future__ import annotations

import numpy as np

from syncact._validation import check_choice, check_positive
from syncact.exceptions import ConfigError

HRF_MODELS = ("glover", "spm")


def hrf_kernel(tr: float, model: str = "glover", *, length: float = 32.0) -> np.ndarray:
    """The HRF sampled every TR over ``length`` seconds, normalised to unit sum.

    Returns
    -------
    ndarray of shape (ceil(length / tr),)
    """
    from nilearn.glm.first_level import glover_hrf, spm_hrf

    check_positive("tr", tr)
    check_choice("hrf", model, HRF_MODELS)
    kernel = {"glover": glover_hrf, "spm": spm_hrf}[model](t_r=tr, oversampling=1, time_length=length)
    return kernel / kernel.sum()


def hrf_convolve(x: np.ndarray, tr: float, model: str = "glover") -> np.ndarray:
    """Convolve each column of ``x`` with the canonical HRF (causal, same length).

    Parameters
    ----------
    x : ndarray of shape (n_timepoints,) or (n_timepoints, n_series)
    tr : float
        Repetition time in seconds.
    model : {"glover", "spm"}, default="glover"

    Returns
    -------
    ndarray of the shape of ``x``
        The predicted BOLD response; each column's mean is subtracted before convolution so the start
        of the run carries no step.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = hrf_kernel(tr, model)
    flat = x.reshape(x.shape[0], -1)
    flat = flat - flat.mean(axis=0)
    n = flat.shape[0]
    size = n + kernel.size - 1
    out = np.fft.irfft(np.fft.rfft(flat, size, axis=0) * np.fft.rfft(kernel, size)[:, None], size, axis=0)[:n]
    return out.reshape(x.shape)


def as_paired(filter_activations: np.ndarray, *, hrf: str = "none", tr: float | None = None) -> np.ndarray:
    """Filter activations as :func:`pair` correlates them: as given, or convolved with the canonical HRF.

    Parameters
    ----------
    filter_activations : ndarray of shape (n_timepoints, n_filters)
    hrf : {"none", "glover", "spm"}, default="none"
    tr : float, optional
        Repetition time in seconds; required when ``hrf`` is not "none".

    Returns
    -------
    ndarray of float64, shape (n_timepoints, n_filters)
    """
    check_choice("hrf", hrf, ("none", *HRF_MODELS))
    filters = np.asarray(filter_activations, dtype=np.float64)
    if hrf == "none":
        return filters
    if tr is None:
        raise ConfigError(f"hrf={hrf!r} needs the repetition time: pass tr=...")
    return hrf_convolve(filters, tr, hrf)
