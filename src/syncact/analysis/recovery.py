"""How well a pipeline run recovered planted networks (for simulated data with known truth).

We report, per planted network, the FBN whose map correlates best with it (spatial), how well the span
of all FBN maps holds it (``span_r``: the multiple correlation of the planted map with the FBN maps,
the ceiling of any choice of maps inside that span, e.g. by identification), and, for
stimulus-driven networks, the FBN whose test-mean activation correlates best with its planted BOLD
(temporal); and classify every FBN as carrying a driven network or not, which is what the pairing's
power and false-positive figures use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from syncact.sync.correlation import pearson_matrix

DRIVEN_R = 0.5
UNRELATED_R = 0.3


def recovery_table(
    networks: pd.DataFrame,
    planted_maps: np.ndarray,
    fbn_maps: np.ndarray,
    planted_bold: dict[str, pd.DataFrame],
    fbn_activations: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Per planted network: best spatial match, and for driven networks the best temporal match per run.

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
        ``network, kind, driver, spatial_fbn, spatial_r, span_r, temporal_fbn`` and ``temporal_r_run-<r>``
        (NaN for spontaneous networks, whose time courses differ per subject and average out).
    """
    spatial = np.nan_to_num(pearson_matrix(planted_maps.T, fbn_maps.T, constant="nan"), nan=-np.inf)  # empty maps lose
    table = pd.DataFrame({
        "network": networks["name"].to_numpy(),
        "kind": networks["kind"].to_numpy(),
        "driver": networks["driver"].to_numpy(),
        "spatial_fbn": spatial.argmax(axis=1),
        "spatial_r": spatial.max(axis=1),
        "span_r": span_correlation(planted_maps, fbn_maps),
    })
    temporal = _temporal_r(table["network"], planted_bold, fbn_activations)  # run -> (n_planted, n_fbns)
    stacked = np.stack(list(temporal.values())) if temporal else np.full((1, len(table), 1), np.nan)
    mean_r = stacked.mean(axis=0)  # NaN rows (spontaneous networks) stay NaN
    best = [int(np.argmax(row)) if not np.isnan(row).any() else -1 for row in mean_r]  # -inf: empty FBN
    table["temporal_fbn"] = best
    for run, r in temporal.items():
        table[f"temporal_r_run-{run}"] = [r[i, k] if k >= 0 else np.nan for i, k in enumerate(best)]
    return table


def span_correlation(targets: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Multiple correlation of each target map with the span of ``maps`` (and a constant).

    Parameters
    ----------
    targets : ndarray of shape (n_targets, n_voxels)
    maps : ndarray of shape (n_maps, n_voxels)

    Returns
    -------
    ndarray of shape (n_targets,)
        ``corr(t, P t)`` with ``P`` the least-squares projection on the maps and a constant.
    """
    design = np.vstack([np.asarray(maps, dtype=np.float64), np.ones(maps.shape[1])]).T  # (V, K + 1)
    targets = np.asarray(targets, dtype=np.float64)
    fitted = design @ np.linalg.lstsq(design, targets.T, rcond=None)[0]  # (V, n_targets)
    return np.array([np.corrcoef(fitted[:, i], targets[i])[0, 1] if np.ptp(fitted[:, i]) > 0 else 0.0
                     for i in range(len(targets))])


def fbn_roles(planted_bold: dict[str, pd.DataFrame], fbn_activations: dict[str, np.ndarray]) -> pd.DataFrame:
    """Classify every FBN by how well its test-mean activation tracks any planted driven BOLD.

    Returns
    -------
    DataFrame
        One row per FBN: ``max_r`` (over driven networks, mean over runs), ``network`` (the best one)
        and ``role``: "driven" (max_r >= 0.5), "unrelated" (max_r < 0.3) or "mixed".
    """
    names = sorted({c.removesuffix("_bold") for bold in planted_bold.values() for c in bold if c.endswith("_bold")})
    temporal = _temporal_r(pd.Series(names), planted_bold, fbn_activations)
    mean_r = np.stack(list(temporal.values())).mean(axis=0)  # (n_driven, n_fbns)
    max_r = mean_r.max(axis=0)
    role = np.where(max_r >= DRIVEN_R, "driven", np.where(max_r < UNRELATED_R, "unrelated", "mixed"))
    return pd.DataFrame({"fbn_index": np.arange(mean_r.shape[1]), "max_r": max_r,
                         "network": [names[i] for i in mean_r.argmax(axis=0)], "role": role})


def _temporal_r(names: pd.Series, planted_bold: dict[str, pd.DataFrame], fbn_activations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for run, bold in planted_bold.items():
        acts = fbn_activations[run]
        r = np.full((len(names), acts.shape[1]), np.nan)
        for i, name in enumerate(names):
            column = f"{name}_bold"
            if column in bold:
                r[i] = np.nan_to_num(pearson_matrix(bold[[column]].to_numpy(), acts, constant="nan")[0], nan=-np.inf)
        out[run] = r
    return out
