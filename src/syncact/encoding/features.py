"""Encoding features from filter activations: one band per layer, delayed copies for the haemodynamic lag.

A layer's activations of one run, (T, F), become one feature band: optionally reduced to its first
principal components (fitted on the movie features of all runs: they carry no brain data, so no target
leaks into them), then stacked with copies shifted by each delay (FIR: zeros before the run starts, no
wrap-around), then z-scored per run so that every band has zero mean (the ridge fits no intercept).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from syncact.exceptions import ConfigError, ShapeError


def default_delays(tr: float, *, start_s: float = 2.0, stop_s: float = 8.0) -> list[int]:
    """Delays in TRs covering ``start_s``-``stop_s`` seconds of haemodynamic lag (2-8 s: the peak of the HRF).

    TR 1 s gives 2..8; TR 2 s gives 1..4; TR 0.72 s (HCP) gives 3..11.
    """
    if tr <= 0:
        raise ConfigError(f"tr must be positive, got {tr}.")
    first, last = max(math.ceil(start_s / tr - 1e-9), 0), math.floor(stop_s / tr + 1e-9)
    return list(range(first, max(last, first) + 1))


def delayed(x: np.ndarray, delays: Sequence[int]) -> np.ndarray:
    """Copies of ``x`` (T, F) shifted down by each delay (zeros before the start), side by side: (T, F * n_delays)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ShapeError(f"features must be (n_timepoints, n_features), got shape {x.shape}.")
    if not delays or any(int(d) < 0 for d in delays):
        raise ConfigError(f"delays must be non-negative TR counts, got {list(delays)}.")
    out = np.zeros((x.shape[0], x.shape[1] * len(delays)), dtype=x.dtype)
    for i, d in enumerate(int(d) for d in delays):
        if d < x.shape[0]:
            out[d:, i * x.shape[1]:(i + 1) * x.shape[1]] = x[: x.shape[0] - d]
    return out


def zscore(x: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit variance over axis 0, as float64; constant columns become zeros
    (a constant filter or target carries nothing, and is not an error here)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


def band_features(layers: Mapping[str, Sequence[np.ndarray]], delays: Sequence[int], *,
                  n_components: int | None = None) -> dict[str, list[np.ndarray]]:
    """One delayed, z-scored feature band per layer, per run.

    Parameters
    ----------
    layers : mapping of str to sequence of ndarray
        Per layer, its activations on each run: (n_timepoints_run, n_filters), runs in the same order
        for every layer.
    delays : sequence of int
        In TRs (:func:`default_delays`).
    n_components : int or None
        Keep each layer's first principal components (over all runs' frames) before delaying.

    Returns
    -------
    dict of str to list of ndarray
        Per layer, per run: (n_timepoints_run, n_features * n_delays), float64.
    """
    if not layers:
        raise ConfigError("no layer to build encoding features from.")
    n_runs = {name: len(runs) for name, runs in layers.items()}
    if len(set(n_runs.values())) != 1:
        raise ShapeError(f"every layer needs the same runs; got {n_runs}.")
    out = {}
    for name, runs in layers.items():
        runs = [np.asarray(r, dtype=np.float64) for r in runs]
        widths = [r.shape[1] if r.ndim == 2 else None for r in runs]
        if len(set(widths)) != 1 or widths[0] is None:
            raise ShapeError(f"layer {name!r}: every run needs the same features (n_timepoints, n_features); got "
                             f"shapes {[r.shape for r in runs]}.")
        if n_components is not None and n_components < runs[0].shape[1]:
            stacked = np.concatenate(runs)
            mean = stacked.mean(axis=0)
            _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
            runs = [(r - mean) @ vt[:n_components].T for r in runs]
        out[name] = [zscore(delayed(zscore(r), delays)) for r in runs]
    return out
