"""How well searchlight RSA maps layers back to planted regions, and how much the layers' maps overlap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from syncact.exceptions import ShapeError
from syncact.rsa.searchlight import SearchlightMaps


def layer_mapping(maps: SearchlightMaps, region_labels: np.ndarray, regions: Sequence[tuple[str, str]], *,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Recovery of planted layer-to-region assignments from searchlight maps.

    Parameters
    ----------
    maps : SearchlightMaps
    region_labels : ndarray of int, shape (n_voxels,)
        Region index of each mask voxel (-1 outside every region), in the maps' voxel order.
    regions : sequence of (name, layer)
    alpha : float, default=0.05
        Family-wise threshold of the significant maps.

    Returns
    -------
    DataFrame
        One row per region: ``region``, ``layer``, ``n_spheres`` (sphere centres inside it),
        ``share_own_significant`` (its layer significant there), ``share_winner`` (its layer wins the
        winner-take-all there), ``top_winner`` (the layer that wins most of its centres),
        ``precision`` (share of its layer's significant spheres that lie in it).
    """
    labels = np.asarray(region_labels)
    if labels.shape != (maps.n_voxels,):
        raise ShapeError(f"region_labels has shape {labels.shape}, the maps cover {maps.n_voxels} voxels.")
    at_center = labels[maps.centers]
    significant = maps.significant(alpha)
    winners = maps.winner_take_all(alpha)
    rows = []
    for k, (name, layer) in enumerate(regions):
        inside = at_center == k
        row: dict[str, object] = {"region": name, "layer": layer, "n_spheres": int(inside.sum())}
        if layer not in maps.layers or not inside.any():
            rows.append(row)
            continue
        j = maps.layers.index(layer)
        won = winners[inside]
        counts = np.bincount(won[won >= 0], minlength=len(maps.layers))
        row.update({
            "share_own_significant": float(significant[j, inside].mean()),
            "share_winner": float((won == j).mean()),
            "top_winner": maps.layers[int(counts.argmax())] if counts.sum() else None,
            "precision": float(inside[significant[j]].mean()) if significant[j].any() else float("nan"),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def overlap_summary(maps: SearchlightMaps, alpha: float = 0.05) -> dict[str, float]:
    """Mean Dice overlap between layers' significant maps and how many spheres each map holds."""
    sig = maps.significant(alpha)
    out = {"mean_dice": maps.mean_dice(alpha)}
    out.update({f"n_significant_{layer}": int(sig[i].sum()) for i, layer in enumerate(maps.layers)})
    return out
