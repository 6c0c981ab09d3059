"""Match networks of two fits (other K, variant, method or seed) by the spatial correlation of their maps.

The Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) finds the one-to-one matching
that maximises the summed correlation; with K_a != K_b, min(K_a, K_b) networks are matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from syncact.exceptions import ShapeError
from syncact.sync.correlation import pearson_matrix


@dataclass(frozen=True)
class NetworkMatch:
    """One-to-one matching of two sets of maps.

    Attributes
    ----------
    index_a, index_b : ndarray of int, shape (n_matched,)
        Matched rows of ``maps_a`` and ``maps_b``, sorted by ``index_a``.
    r : ndarray of shape (n_matched,)
        Spatial Pearson correlation of each matched pair (NaN where a map is empty).
    correlation : ndarray of shape (K_a, K_b)
        All spatial correlations.
    """

    index_a: np.ndarray
    index_b: np.ndarray
    r: np.ndarray
    correlation: np.ndarray

    @property
    def mean_r(self) -> float:
        return float(np.nanmean(self.r)) if np.isfinite(self.r).any() else float("nan")

    def to_frame(self, name_a: str = "a", name_b: str = "b") -> pd.DataFrame:
        return pd.DataFrame({f"fbn_{name_a}": self.index_a, f"fbn_{name_b}": self.index_b, "spatial_r": self.r})


def match_networks(maps_a: np.ndarray, maps_b: np.ndarray) -> NetworkMatch:
    """Hungarian matching of two sets of network maps by spatial correlation.

    Parameters
    ----------
    maps_a : ndarray of shape (K_a, n_voxels)
    maps_b : ndarray of shape (K_b, n_voxels)

    Returns
    -------
    NetworkMatch
    """
    a, b = np.asarray(maps_a, dtype=np.float64), np.asarray(maps_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or not (a.size and b.size):
        raise ShapeError(f"maps must be non-empty (n_networks, n_voxels) arrays, got {a.shape} and {b.shape}.")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"maps_a has {a.shape[1]} voxels and maps_b {b.shape[1]}; match maps on the same mask.")
    r = pearson_matrix(a.T, b.T, constant="nan")  # an empty map matches nothing (NaN)
    rows, cols = linear_sum_assignment(np.nan_to_num(r, nan=-2.0), maximize=True)
    return NetworkMatch(rows, cols, r[rows, cols], r)
