"""The residual method: each layer's RDM with what the other layers' RDMs explain removed.

For natural images the layers' RDMs are highly correlated, so a region that matches one layer matches
its neighbours too. Regressing each layer's RDM (upper triangle) on the other layers' RDMs (ordinary
least squares with an intercept) and keeping the residual leaves the part of the layer's geometry
that no other chosen layer shares: its fingerprint. Searchlight RSA on residual RDMs maps layers more
selectively, approaching what synthesised layer-orthogonal images achieve (the second seed).

By construction a layer's residual is uncorrelated with every other chosen layer's RDM, so a region that
carries another layer's geometry does not match it. The residuals themselves are not mutually
orthogonal: two layers' residuals correlate as minus the layers' partial correlation (for two layers,
minus their correlation), so their mean |r| is not the figure of merit; the cross-correlations with the
original RDMs are (:func:`cross_orthogonality`).

With ``rank=True`` the RDMs are rank-transformed before the regression (suited to a Spearman
comparison downstream, which is the searchlight's default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from syncact.exceptions import ShapeError
from syncact.rsa.rdm import LayerRDMs


@dataclass
class ResidualRDMs(LayerRDMs):
    """Residual RDMs of each layer, with how much of each layer's RDM the others explained.

    Attributes
    ----------
    r_squared : ndarray of shape (n_layers,)
        Share of the variance of each layer's RDM explained by the other layers' RDMs.
    source : LayerRDMs
        The RDMs the residuals were computed from.
    """

    r_squared: np.ndarray = None  # type: ignore[assignment]
    source: LayerRDMs | None = None


def residualize(target: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual of ``target`` after least squares on ``others`` and an intercept.

    Parameters
    ----------
    target : ndarray of shape (n_pairs,)
    others : ndarray of shape (n_others, n_pairs)

    Returns
    -------
    residual : ndarray of shape (n_pairs,)
    r_squared : float
    """
    target = np.asarray(target, dtype=np.float64)
    design = np.column_stack([np.ones(target.size), np.atleast_2d(others).T])
    if design.shape[0] <= design.shape[1]:
        raise ShapeError(f"{target.size} dissimilarities cannot be regressed on {design.shape[1] - 1} RDMs: use more images.")
    beta, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ beta
    centred = target - target.mean()
    total = float(centred @ centred)
    return residual, (1.0 - float(residual @ residual) / total) if total > 0 else float("nan")


def residual_rdms(rdms: LayerRDMs, *, rank: bool = False) -> ResidualRDMs:
    """Every layer's RDM regressed on all the other layers' RDMs; the residuals are the fingerprints.

    Parameters
    ----------
    rdms : LayerRDMs
        At least two layers' RDMs of the same images (:func:`syncact.rsa.layer_rdms`).
    rank : bool, default=False
        Rank-transform each RDM first.

    Returns
    -------
    ResidualRDMs
        ``vectors`` hold the residuals (mean zero), in the order of ``rdms.layers``.
    """
    if len(rdms.layers) < 2:
        raise ShapeError("the residual method needs at least two layers.")
    vectors = stats.rankdata(rdms.vectors, axis=1) if rank else np.asarray(rdms.vectors, dtype=np.float64)
    residuals, r2 = [], []
    for i in range(len(rdms.layers)):
        res, explained = residualize(vectors[i], np.delete(vectors, i, axis=0))
        residuals.append(res)
        r2.append(explained)
    return ResidualRDMs(list(rdms.layers), np.stack(residuals), f"residual-{rdms.metric}", np.asarray(r2), rdms)


def cross_orthogonality(residuals: ResidualRDMs) -> float:
    """Mean |r| between each layer's residual RDM and the other layers' original RDMs (0 up to rounding)."""
    from syncact.rsa.rdm import compare_rdms

    source = residuals.source
    if source is None:
        raise ShapeError("these residual RDMs do not keep the RDMs they came from.")
    r = compare_rdms(residuals.vectors, source.vectors, "pearson")
    return float(np.abs(r[~np.eye(len(residuals.layers), dtype=bool)]).mean())
