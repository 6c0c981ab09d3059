"""Fit several brain-network methods and numbers of networks on one split, and score them side by side.

This runs the paper's embedding ablation (LT, LT+LSTM, LT+MSA; Table 8), its sweep over the number of
FBNs (64/128/256/512), and the baselines (group ICA, dictionary learning, PCA, SRM) through the same
pairing, so every row of the tables is computed the same way:

* ``scores``: per FBN of every (method, K, model, layer, run): its Eq.2 filter, PCC, shift-test p-value
  and the ablation metrics (:func:`syncact.analysis.ablation.paired_scores`); networks whose map is
  empty (all zero, possible with dictionary learning) have no activation and are left out
  (``fits.n_empty`` counts them);
* ``ablation``: the metrics averaged per (method, K) -- Table 8;
* ``k_sweep``: mean PCC and number of significant pairs per (method, K, model, layer, run);
* ``matching``: each fit matched to the reference fit (the first method and K) by Hungarian matching
  of spatial correlations -- how stable the networks are across K, variants and methods;
* ``recovery`` (simulated data with planted truth): per planted network, the best spatial and
  temporal correlation that each fit reaches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact.analysis.ablation import METRICS, ablation_table, paired_scores
from syncact.analysis.matching import match_networks
from syncact.analysis.recovery import recovery_table
from syncact.networks import BrainNetworks, make_networks
from syncact.networks.subspace import principal_subspace
from syncact.sync import as_paired, pair

logger = logging.getLogger(__name__)


@dataclass
class GroundTruth:
    """Planted networks of a simulated dataset (see :func:`syncact.simulate.make_dataset`)."""

    networks: pd.DataFrame
    maps: np.ndarray  # (n_planted, n_voxels)
    bold: dict[str, pd.DataFrame]  # run -> expected BOLD of the driven networks


@dataclass
class Fit:
    """A fitted brain-network model and the wall time of its fit (a unit's result, see :func:`fit_networks`)."""

    model: BrainNetworks
    seconds: float


def shared_subspace(train: Sequence[np.ndarray], n_components: int, seed: int = 0, progress: bool = False) -> dict[str, np.ndarray]:
    """The principal subspace every Sync-ACT fit with ``n_components`` starts from, as a unit of its own.

    It depends on the training runs, ``n_components`` and ``seed`` only, not on K or the temporal module,
    so the fits of a K sweep (and the ablation's variants) share one computation; it is the costly part
    of a fit on many runs (``benchmarks/bench_study.py``).

    Returns
    -------
    dict with ``basis`` : ndarray of shape (n_voxels, r), float32
    """
    return {"basis": principal_subspace(train, n_components, seed=seed, progress=progress).numpy()}


def fit_networks(method: str, n_networks: int, params: Mapping[str, object], train: Sequence[np.ndarray],
                 validation: Sequence[np.ndarray] | None = None, groups: Sequence[str] | None = None,
                 subspace: Mapping[str, np.ndarray] | None = None, **settings: object) -> Fit:
    """Build a model with :func:`syncact.networks.make_networks` and fit it; a top-level function, so it runs as a unit.

    Parameters
    ----------
    method, n_networks, params
        For :func:`~syncact.networks.make_networks` (``params``: settings that change the result).
    train, validation, groups
        For the model's ``fit`` (an empty ``validation`` counts as none).
    subspace : mapping, optional
        The result of :func:`shared_subspace` for these runs and the model's ``n_components`` and ``seed``
        (the Sync-ACT embedding only); the fit then skips computing it.
    **settings
        Settings that do not change the result (``progress``, ``checkpoint_dir``, ``resume``); a method
        that does not take one ignores it.

    Returns
    -------
    Fit
    """
    model = make_networks(method, n_networks, **params, **settings)
    given = {} if subspace is None else {"basis": torch.from_numpy(np.asarray(subspace["basis"]))}
    tic = time.perf_counter()
    model.fit(train, validation or None, groups=groups, **given)
    return Fit(model, time.perf_counter() - tic)


@dataclass
class MethodComparison:
    """Tables of :func:`compare_methods` (see the module docstring) and the fitted models."""

    fits: pd.DataFrame
    scores: pd.DataFrame
    ablation: pd.DataFrame
    k_sweep: pd.DataFrame
    matching: pd.DataFrame
    recovery: pd.DataFrame | None = None
    models: dict[tuple[str, int], BrainNetworks] = field(default_factory=dict)


def compare_methods(
    train: Sequence[np.ndarray],
    validation: Sequence[np.ndarray] | None,
    test: Mapping[str, Sequence[np.ndarray]],
    filters: Mapping[tuple[str, str, str, str], np.ndarray],
    *,
    methods: Sequence[str] = ("lt", "lt+lstm", "lt+msa"),
    n_networks: Sequence[int] = (64, 128, 256, 512),
    params: Mapping[str, object] | None = None,
    groups: Sequence[str] | None = None,
    pairing: Mapping[str, object] | None = None,
    normalize: str = "zscore",
    truth: GroundTruth | None = None,
    progress: bool = False,
    on_fit: Callable[[str, int, BrainNetworks], None] | None = None,
    fitted: Mapping[tuple[str, int], Fit] | None = None,
) -> MethodComparison:
    """Fit every (method, K), pair its test-mean activations with every filter set, and tabulate.

    Parameters
    ----------
    train, validation : sequence of ndarray of shape (n_timepoints, n_voxels)
        Training and validation runs (validation may be None).
    test : mapping of run label to sequence of ndarray of shape (n_timepoints_run, n_voxels)
        Test subjects' runs; the FBN activation of a run is their mean.
    filters : mapping of (model, weights, layer, run) to ndarray of shape (n_timepoints_run, n_filters)
    methods : sequence of str
        Names for :func:`syncact.networks.make_networks`.
    n_networks : sequence of int
    params : mapping, optional
        Settings for every method (seed, n_epochs, mask_img, ...); each takes those it knows.
    groups : sequence of str, optional
        Subject of each training run (needed by SRM).
    pairing : mapping, optional
        Keyword arguments of :func:`syncact.sync.pair` (``alpha``, ``min_shift``, ``hrf``, ``tr``, ...), the same
        for every fit.
    normalize : {"zscore", "minmax"}
        Normalisation of the ablation metrics.
    truth : GroundTruth, optional
    progress : bool, default=False
    on_fit : callable, optional
        Called with (method, K, model) after each fit (e.g. to save maps).
    fitted : mapping of (method, K) to Fit, optional
        Fits made already (e.g. as units on Dask, see :func:`fit_networks`); the others are fitted here.

    Returns
    -------
    MethodComparison
    """
    params, pairing = dict(params or {}), dict(pairing or {})
    fits, scores, sweeps, recoveries, models = [], [], [], [], {}
    combos = [(m, int(k)) for m in methods for k in n_networks]
    fitted = dict(fitted or {})
    for method, k in tqdm(combos, desc="methods x K", unit="fit", disable=bar_disabled(progress)):
        fit = fitted.get((method, k)) or fit_networks(method, k, params, train, validation, groups)
        model, seconds = fit.model, fit.seconds
        models[(method, k)] = model
        if on_fit is not None:
            on_fit(method, k, model)
        history = model.history_
        identification = getattr(model, "identification_", None)
        fits.append({"method": method, "n_networks": k, "fit_seconds": seconds,
                     "identify_seconds": identification.seconds if identification is not None else np.nan,
                     "epochs": len(history.train_loss) if history is not None else np.nan,
                     "validation_loss": float(np.nanmin(history.validation_loss)) if history is not None
                     and np.isfinite(history.validation_loss).any() else np.nan})
        activations = {run: np.mean([model.transform(x) for x in runs], axis=0) for run, runs in test.items()}
        live = {run: np.flatnonzero(acts.std(axis=0) > 0) for run, acts in activations.items()}  # empty maps: no activation
        fits[-1]["n_empty"] = max(k - idx.size for idx in live.values())
        for (name, weights, layer, run), filt in filters.items():
            acts = activations[run][:, live[run]]
            result = pair(acts, filt, **pairing)
            paired = as_paired(filt, hrf=pairing.get("hrf", "none"), tr=pairing.get("tr"))
            table = paired_scores(acts, paired, result.eq2["filter_index"].to_numpy(), normalize=normalize)
            table["fbn_index"] = live[run]
            table["p_shift"] = result.eq2["p_shift"].to_numpy()
            table["significant"] = result.eq2["significant"].to_numpy()
            keys = {"method": method, "n_networks": k, "model": name, "weights": weights, "layer": layer, "run": run}
            scores.append(table.assign(**keys))
            sweeps.append({**keys, "mean_pcc": result.mean_pcc, "mean_p_shift": result.mean_p_shift,
                           "n_significant": int(result.eq2["significant"].sum())})
        if truth is not None:
            bold = {run: b for run, b in truth.bold.items() if run in activations}
            rec = recovery_table(truth.networks, truth.maps, model.maps_, bold, activations)
            temporal = [c for c in rec if c.startswith("temporal_r_run-")]
            recoveries.append(pd.DataFrame({"method": method, "n_networks": k, "network": rec["network"],
                                            "kind": rec["kind"], "spatial_r": rec["spatial_r"], "span_r": rec["span_r"],
                                            "temporal_r": rec[temporal].mean(axis=1) if temporal else np.nan}))
    scores_df = pd.concat(scores, ignore_index=True)
    scores_df["normalize"] = normalize
    reference = models[combos[0]]
    matching = []
    for (method, k), model in models.items():
        m = match_networks(reference.maps_, model.maps_)
        matching.append({"method": method, "n_networks": k, "reference": f"{combos[0][0]} K={combos[0][1]}",
                         "n_matched": len(m.r), "mean_spatial_r": m.mean_r, "min_spatial_r": float(np.nanmin(m.r))
                         if np.isfinite(m.r).any() else np.nan})
    ablation = ablation_table(scores_df, by=("method", "n_networks"))
    ablation["normalize"] = normalize
    return MethodComparison(
        fits=pd.DataFrame(fits), scores=scores_df, ablation=ablation, k_sweep=pd.DataFrame(sweeps),
        matching=pd.DataFrame(matching), recovery=pd.concat(recoveries, ignore_index=True) if recoveries else None,
        models=models,
    )


__all__ = ["METRICS", "Fit", "GroundTruth", "MethodComparison", "compare_methods", "fit_networks", "shared_subspace"]
