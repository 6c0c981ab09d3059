"""Tables of voxelwise encoding scores: per band, and per atlas network.

A voxel counts as predicted when its held-out r passes its own circular-shift null in every fold
(:meth:`~syncact.encoding.EncodingScores.significant`); a band wins a voxel when it holds the largest share of its
split R². Ceiled scores are ``r / ceiling`` clipped to [0, 1] (:func:`~syncact.encoding.ceiled`), summarised by
their median over the voxels whose ceiling is above zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from syncact.encoding.ceiling import ceiled
from syncact.encoding.model import EncodingScores
from syncact.exceptions import ShapeError

ALPHA = 0.05


def _check(scores: EncodingScores, *arrays: np.ndarray) -> int:
    n = scores.r.shape[1]
    for a in arrays:
        if np.shape(a)[0] != n:
            raise ShapeError(f"{np.shape(a)[0]} values for {n} encoded targets.")
    return n


def _median_ceiled(r: np.ndarray, ceiling: np.ndarray) -> float:
    values = ceiled(r, ceiling)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


def score_maps(scores: EncodingScores, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """The maps of a whole-brain fit, each (n_voxels,): ``r`` (mean held-out r), ``r2``, ``winner`` (1 + the band
    that wins each predicted voxel, 0 elsewhere) and ``r2_<band>`` (R² split, mean over folds)."""
    maps = {"r": scores.mean_r, "r2": scores.r2.mean(axis=0),
            "winner": np.where(scores.significant(alpha), scores.winner() + 1, 0)}
    return maps | {f"r2_{band}": scores.split[b] for b, band in enumerate(scores.bands)}


def band_table(scores: EncodingScores, ceiling: np.ndarray, null: EncodingScores | None = None, *,
               alpha: float = ALPHA) -> pd.DataFrame:
    """One row per band of a whole-brain fit.

    Parameters
    ----------
    scores : EncodingScores
        Of every voxel.
    ceiling : ndarray of shape (n_voxels,)
    null : EncodingScores or None
        The same voxels fitted with mismatched movies: its share passing the test is the false-positive rate.
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        ``band, n_voxels, mean_r, share_significant, false_positive_rate, share_won`` (of the predicted voxels),
        ``median_ceiling, median_ceiled_r`` (of the predicted voxels).
    """
    _check(scores, ceiling)
    passed = scores.significant(alpha)
    winners = scores.winner()
    fpr = float(null.significant(alpha).mean()) if null is not None else np.nan
    rows = []
    for b, band in enumerate(scores.bands):
        rows.append({"band": band, "n_voxels": int(passed.size), "mean_r": float(scores.mean_r.mean()),
                     "share_significant": float(passed.mean()), "false_positive_rate": fpr,
                     "share_won": float((winners[passed] == b).mean()) if passed.any() else np.nan,
                     "median_ceiling": float(np.nanmedian(ceiling)),
                     "median_ceiled_r": _median_ceiled(scores.mean_r[passed], ceiling[passed]) if passed.any() else np.nan})
    return pd.DataFrame(rows)


def network_table(scores: EncodingScores, ceiling: np.ndarray, networks: np.ndarray, *,
                  alpha: float = ALPHA) -> pd.DataFrame:
    """One row per atlas network: how well its voxels are predicted, against their ceiling, and by which band.

    Parameters
    ----------
    scores : EncodingScores
        Of every voxel.
    ceiling : ndarray of shape (n_voxels,)
    networks : ndarray of str, shape (n_voxels,)
        Each voxel's network, ``""`` for none (e.g. :meth:`~syncact.annotate.CoordinateAtlas.voxel_networks`).
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        ``network, n_voxels, median_r, share_significant, median_ceiling, median_ceiled_r, best_band`` (the band
        that wins most of its predicted voxels; empty when none is predicted) and ``share_won_<band>`` per band.
    """
    _check(scores, ceiling, networks)
    networks = np.asarray(networks).astype(str)
    passed = scores.significant(alpha)
    winners = scores.winner()
    rows = []
    for name in sorted(set(networks) - {""}):
        inside = networks == name
        won = [float((winners[inside & passed] == b).mean()) if (inside & passed).any() else np.nan
               for b in range(len(scores.bands))]
        row = {"network": name, "n_voxels": int(inside.sum()), "median_r": float(np.median(scores.mean_r[inside])),
               "share_significant": float(passed[inside].mean()), "median_ceiling": float(np.nanmedian(ceiling[inside])),
               "median_ceiled_r": _median_ceiled(scores.mean_r[inside], ceiling[inside]),
               "best_band": scores.bands[int(np.nanargmax(won))] if (inside & passed).any() else ""}
        row.update({f"share_won_{band}": w for band, w in zip(scores.bands, won, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)
