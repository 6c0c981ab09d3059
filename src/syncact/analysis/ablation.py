"""Scores of paired activations for the embedding ablation (the paper's Table 8): MAE, MSE, RMSE, DTW, PCC.

Each FBN's activation is compared with the activation of the filter Eq.2 paired it with. FBN and filter
activations have unrelated units, so both series are normalised first: ``"zscore"`` (default; then
``MSE = 2 (1 - PCC)`` exactly, so MSE/RMSE restate the PCC and MAE and DTW add shape information) or
``"minmax"`` to [0, 1] (errors depend on the range, which is what a [0, 1] plot shows). DTW is the
dynamic-time-warping distance of dtaidistance's C implementation (no window: the paper gives none).
Lower MAE/MSE/RMSE/DTW and higher PCC are better. The paper does not say how it normalised; the choice
is recorded in the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from syncact._validation import check_choice
from syncact.exceptions import ShapeError

METRICS = ("pcc", "mae", "mse", "rmse", "dtw")
NORMALIZATIONS = ("zscore", "minmax")


def _normalize(x: np.ndarray, how: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if how == "zscore":
        sd = x.std(axis=0)
        return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    lo, hi = x.min(axis=0), x.max(axis=0)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def paired_scores(fbn_activations: np.ndarray, filter_activations: np.ndarray, filter_index: np.ndarray, *,
                  normalize: str = "zscore") -> pd.DataFrame:
    """MAE, MSE, RMSE, DTW and PCC between each FBN and its paired filter.

    Parameters
    ----------
    fbn_activations : ndarray of shape (n_timepoints, n_fbns)
    filter_activations : ndarray of shape (n_timepoints, n_filters)
        As paired (HRF-convolved when the pairing convolved them).
    filter_index : ndarray of int, shape (n_fbns,)
        Column of ``filter_activations`` paired with each FBN (``Pairing.eq2["filter_index"]``).
    normalize : {"zscore", "minmax"}, default="zscore"

    Returns
    -------
    DataFrame
        One row per FBN: ``fbn_index, filter_index, pcc, mae, mse, rmse, dtw``.
    """
    from dtaidistance import dtw

    check_choice("normalize", normalize, NORMALIZATIONS)
    b = np.asarray(fbn_activations, dtype=np.float64)
    a = np.asarray(filter_activations, dtype=np.float64)
    idx = np.asarray(filter_index, dtype=int)
    if b.ndim != 2 or a.ndim != 2 or b.shape[0] != a.shape[0]:
        raise ShapeError(f"FBN activations {b.shape} and filter activations {a.shape} must be (time, n) with one length.")
    if idx.shape != (b.shape[1],) or idx.min(initial=0) < 0 or idx.max(initial=0) >= a.shape[1]:
        raise ShapeError(f"filter_index must give one filter column (0..{a.shape[1] - 1}) per FBN ({b.shape[1]}).")
    x, y = _normalize(b, normalize), _normalize(a[:, idx], normalize)
    diff = x - y
    zx, zy = _normalize(b, "zscore"), _normalize(a[:, idx], "zscore")
    return pd.DataFrame({
        "fbn_index": np.arange(b.shape[1]),
        "filter_index": idx,
        "pcc": (zx * zy).mean(axis=0),
        "mae": np.abs(diff).mean(axis=0),
        "mse": (diff**2).mean(axis=0),
        "rmse": np.sqrt((diff**2).mean(axis=0)),
        "dtw": [dtw.distance_fast(np.ascontiguousarray(x[:, k]), np.ascontiguousarray(y[:, k])) for k in range(b.shape[1])],
    })


def ablation_table(scores: pd.DataFrame, by: tuple[str, ...] = ("method",)) -> pd.DataFrame:
    """Mean of each metric over pairs (and pairings), one row per ``by`` group, as the paper's Table 8."""
    missing = [c for c in (*by, *METRICS) if c not in scores]
    if missing:
        raise ShapeError(f"scores lack columns {missing}; build them with paired_scores.")
    return scores.groupby(list(by), sort=False)[list(METRICS)].mean().reset_index()
