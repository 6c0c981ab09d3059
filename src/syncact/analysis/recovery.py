"""How well a pipeline run recovered planted networks (for simulated data with known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from syncact.sync.correlation import pearson_matrix


def match_maps(planted: np.ndarray, recovered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one match of planted to recovered maps by spatial correlation (Hungarian).

    Parameters
    ----------
    planted : ndarray of shape (n_planted, n_voxels)
    recovered : ndarray of shape (n_recovered, n_voxels), n_recovered >= n_planted

    Returns
    -------
    index : ndarray of shape (n_planted,)
        Recovered map matched to each planted map.
    r : ndarray of shape (n_planted,)
        Spatial correlation of each match.
    """
    r = pearson_matrix(planted.T, recovered.T)
    rows, cols = linear_sum_assignment(-r)
    index = np.empty(planted.shape[0], dtype=int)
    index[rows] = cols
    return index, r[np.arange(planted.shape[0]), index]


def recovery_table(
    networks: pd.DataFrame,
    planted_maps: np.ndarray,
    fbn_maps: np.ndarray,
    planted_bold: dict[str, pd.DataFrame],
    fbn_activations: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Per planted network: its matched FBN, spatial r, and temporal r with the planted BOLD per run.

    Parameters
    ----------
    networks : DataFrame
        Planted networks (``name``, ``kind``, ``driver``).
    planted_maps : ndarray of shape (n_planted, n_voxels)
    fbn_maps : ndarray of shape (n_fbns, n_voxels)
    planted_bold : dict of run to DataFrame
        Expected BOLD of the stimulus-driven networks (columns ``<name>_bold``).
    fbn_activations : dict of run to ndarray of shape (n_timepoints, n_fbns)
        Test-subject mean FBN activations.

    Returns
    -------
    DataFrame
        ``network, kind, driver, fbn_index, spatial_r`` and ``temporal_r_run-<r>`` (NaN for
        spontaneous networks, whose time courses differ per subject).
    """
    index, spatial = match_maps(planted_maps, fbn_maps)
    table = pd.DataFrame({
        "network": networks["name"].to_numpy(),
        "kind": networks["kind"].to_numpy(),
        "driver": networks["driver"].to_numpy(),
        "fbn_index": index,
        "spatial_r": spatial,
    })
    for run, bold in planted_bold.items():
        values = []
        for name, k in zip(table["network"], index):
            column = f"{name}_bold"
            if column in bold:
                values.append(float(np.corrcoef(bold[column].to_numpy(), fbn_activations[run][:, k])[0, 1]))
            else:
                values.append(np.nan)
        table[f"temporal_r_run-{run}"] = values
    return table
