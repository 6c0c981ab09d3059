"""``[encoding]``: voxelwise and FBN encoding models beside the pairing, their noise ceiling and a null.

For every model, its configured layers are feature bands (:func:`syncact.encoding.band_features`) and a
banded ridge predicts, leaving one run out, (a) every voxel of the test subjects' mean BOLD and (b) every
FBN's test-mean activation (units: :func:`plan_encoding`; tables and maps: :func:`write_encoding`). The
noise ceiling comes from the leave-one-out ISC among the test subjects (for their mean). The null: the same fit with each run's features paired with another run's BOLD (movies that
nothing links; runs of equal length). A voxel counts as predicted when its held-out r passes its own
circular-shift null (``EncodingScores.p_shift`` <= 0.05: the null keeps each voxel's autocorrelation, so slow
spontaneous fluctuations are not mistaken for prediction); the share of the mismatched-movie fit's voxels that
pass the same test is the false-positive rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from syncact.analysis import GroundTruth
from syncact.ann.registry import model_key, weights_label
from syncact.config import ExperimentConfig
from syncact.encoding import EncodingResult, EncodingScores, ceiled, default_delays, jackknife_ceiled
from syncact.encoding.store import atlas_networks
from syncact.encoding.summary import ALPHA, band_table, network_table, score_maps
from syncact.experiment.layout import RunDirectory
from syncact.experiment.result import PairingKey
from syncact.experiment.units import bands_unit, bold_targets_unit, encoding_unit, fbn_targets_unit
from syncact.networks.subspace import run_shapes
from syncact.sync import Pairing
from syncact.units import Dep, Plan


def _paired_layer(pairings: dict[PairingKey, Pairing], model: str, weights: str,
                  n_fbns: int) -> tuple[list[str], np.ndarray]:
    """For each FBN, the layer of this model whose Eq.2 pair has the highest PCC (mean over runs), and that PCC."""
    by_layer: dict[str, list[np.ndarray]] = {}
    for key, pairing in pairings.items():
        if key.model == model and key.weights == weights:
            by_layer.setdefault(key.layer, []).append(pairing.eq2["pcc"].to_numpy())
    layers = list(by_layer)
    pcc = np.stack([np.mean(by_layer[layer], axis=0) for layer in layers])[:, :n_fbns]  # (n_layers, n_fbns)
    best = pcc.argmax(axis=0)
    return [layers[i] for i in best], pcc[best, np.arange(pcc.shape[1])]


def plan_encoding(plan: Plan, config: ExperimentConfig, tr: float, bold_test: Mapping[str, Sequence[np.ndarray]],
                  fbns: Sequence[Dep | Mapping[str, np.ndarray]], extracted: Mapping[tuple[str, str], Dep],
                  progress: bool) -> dict[str, str]:
    """Add the encoding units of every configured model to ``plan``; returns what each result is, by unit name.

    Once: the targets and their noise ceilings, ``encoding/targets/voxels`` (the test BOLD, read once) and
    ``encoding/targets/fbns``. Per model: ``encoding/<model>/<weights>/bands``
    (:func:`~syncact.experiment.units.bands_unit`), then the voxels' fit (``.../voxels``), the FBNs' fit
    (``.../fbns``) and, with several runs of equal length, the mismatched-movie null (``.../null``). The voxels'
    fits and the null need only the prepared BOLD and the activations, so they run beside the embedding's fit.

    Parameters
    ----------
    plan : Plan
    config : ExperimentConfig
    tr : float
    bold_test : dict of run label to StoreRuns
        Each test subject's prepared run (read lazily).
    fbns : list
        Per run (the order of ``bold_test``): the :func:`~syncact.experiment.units.transform_unit` unit (Dep) or
        its result.
    extracted : dict of (model key, run label) to Dep
        The extraction units.
    progress : bool

    Returns
    -------
    dict
        ``{"voxels": name, "fbns": name, "<model key>/<part>": name}``: the targets units, and each model's fits
        with part in voxels, fbns, null.
    """
    ec = config.encoding
    runs = list(bold_test)
    delays = list(ec.delays) if ec.delays is not None else default_delays(tr)
    lengths = {run_shapes(bold_test[r])[0][0] for r in runs}
    fit_kwargs = {"n_iter": ec.n_iter, "chunk_size": ec.chunk_size, "solver": ec.solver, "backend": ec.backend,
                  "seed": config.seed}
    settings = {"progress": progress}
    names = {"voxels": "encoding/targets/voxels", "fbns": "encoding/targets/fbns"}
    targets = {"voxels": plan.add(names["voxels"], bold_targets_unit, runs=dict(bold_test)),
               "fbns": plan.add(names["fbns"], fbn_targets_unit, transforms=list(fbns))}
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        stem = f"encoding/{spec.name}/{weights}"
        bands = plan.add(f"{stem}/bands", bands_unit, acts=[extracted[(key, r)] for r in runs], layers=list(spec.layers),
                         delays=delays, n_components=ec.n_components)
        parts = {"voxels": ("voxels", False, False), "fbns": ("fbns", False, True)}  # (targets, rotate, keep)
        if len(runs) >= 2 and len(lengths) == 1:
            parts["null"] = ("voxels", True, False)
        for part, (target, rotate, keep) in parts.items():
            names[f"{key}/{part}"] = f"{stem}/{part}"
            plan.add(f"{stem}/{part}", encoding_unit, bands=bands, targets=targets[target], rotate=rotate,
                     keep_predictions=keep, fit_kwargs=fit_kwargs, settings=settings)
    return names


def write_encoding(done: Mapping[str, object], names: Mapping[str, str], config: ExperimentConfig,
                   fbn_per_subject: dict[str, np.ndarray], pairings: dict[PairingKey, Pairing], truth: GroundTruth | None,
                   run_dir: RunDirectory, store: object) -> EncodingResult:
    """The encoding tables and maps of every configured model from its units' results (:func:`plan_encoding`).

    Parameters
    ----------
    done : mapping
        Unit results by name (a :class:`~syncact.units.PlanResult`).
    names : dict
        :func:`plan_encoding`'s return.
    config : ExperimentConfig
    fbn_per_subject : dict of run to ndarray of shape (n_subjects, T, n_fbns)
    pairings : dict of PairingKey to Pairing
    truth : GroundTruth or None
    run_dir : RunDirectory
    store : PreparedStore
        To write maps on the store's grid.

    Returns
    -------
    EncodingResult
    """
    ceiling, fbn_ceiling = done[names["voxels"]]["ceiling"], done[names["fbns"]]["ceiling"]
    voxels, fbns, null = {}, {}, {}
    band_tables, fbn_tables, network_tables, truth_rows = [], [], [], []
    networks = atlas_networks(store)
    fbn_data = list(fbn_per_subject.values())
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        voxels[key], fbns[key] = done[names[f"{key}/voxels"]], done[names[f"{key}/fbns"]]
        if f"{key}/null" in names:
            null[key] = done[names[f"{key}/null"]]
        scores = voxels[key]
        labels = {"model": spec.name, "weights": weights}
        band_tables.append(_labelled(band_table(scores, ceiling, null.get(key), alpha=ALPHA), labels))
        if networks is not None:
            network_tables.append(_labelled(network_table(scores, ceiling, networks, alpha=ALPHA), labels))
        fbn_tables.append(_labelled(_fbn_table(fbns[key], fbn_data, pairings, spec.name, weights), labels))
        if truth is not None:
            truth_rows += _truth_rows(truth, scores, scores.winner(), scores.significant(ALPHA), spec.name, weights)
        for name, values in score_maps(scores, ALPHA).items():
            run_dir.write_maps(run_dir.root / "encoding" / f"{spec.name}_{weights}_{name}{store.map_suffix}",
                               store.map_image(np.asarray(values, dtype=np.float32)[None], [name]))
    run_dir.write_maps(run_dir.root / "encoding" / f"ceiling{store.map_suffix}", store.map_image(ceiling[None], ["ceiling"]))
    result = EncodingResult(voxels, fbns, null, ceiling, fbn_ceiling, pd.concat(band_tables, ignore_index=True),
                            pd.concat(fbn_tables, ignore_index=True),
                            pd.DataFrame(truth_rows) if truth_rows else None,
                            pd.concat(network_tables, ignore_index=True) if network_tables else None)
    run_dir.write_table("encoding", result.table)
    run_dir.write_table("encoding_fbns", result.fbn_table)
    if result.networks is not None:
        run_dir.write_table("encoding_networks", result.networks)
    if result.truth is not None:
        run_dir.write_table("encoding_truth", result.truth)
    return result


def _labelled(table: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """``table`` with the model's columns first."""
    return pd.concat([pd.DataFrame(labels, index=table.index), table], axis=1)


def _fbn_table(scores: EncodingScores, per_subject: list[np.ndarray], pairings: dict[PairingKey, Pairing], model: str,
               weights: str) -> pd.DataFrame:
    """Per FBN: its encoding r and ceiled score with a jackknife interval over test subjects, the layer that wins its
    split R² beside the layer of its best Eq.2 pair, and that pair's PCC against the same ceiling."""
    n_fbns = scores.r.shape[1]
    ceiled_scores = jackknife_ceiled(scores.predictions, per_subject)
    paired, paired_pcc = _paired_layer(pairings, model, weights, n_fbns)
    winner = scores.winner()
    rows = []
    for k in range(n_fbns):
        best = scores.bands[winner[k]] if winner[k] >= 0 else None
        rows.append({"fbn": f"FBN-{k:02d}", "encoding_r": float(scores.mean_r[k]),
                     "ceiling": float(ceiled_scores.ceiling[k]), "ceiled_r": float(ceiled_scores.value[k]),
                     "ceiled_r_low": float(ceiled_scores.low[k]), "ceiled_r_high": float(ceiled_scores.high[k]),
                     "encoding_layer": best, "paired_layer": paired[k], "same_layer": best == paired[k],
                     "paired_pcc": float(paired_pcc[k]),
                     "paired_pcc_ceiled": float(ceiled(paired_pcc[k], ceiled_scores.ceiling[k]))})
    return pd.DataFrame(rows)


def _truth_rows(truth: GroundTruth, scores: EncodingScores, winners: np.ndarray, passed: np.ndarray, model: str,
                weights: str) -> list[dict[str, object]]:
    """Per planted network (its own voxels: map >= half its peak, every other map < a tenth of its peak): the share
    predicted (shift null) and the share each band wins; for CNN-driven networks the planted layer's share. Spontaneous networks should stay near 5 %."""
    rows = []
    for i, net in enumerate(truth.networks.itertuples()):
        driver = str(net.driver)
        others = np.delete(truth.maps, i, axis=0)
        # its own voxels only: at least half its peak, under a tenth of every other network's peak (maps overlap)
        inside = (truth.maps[i] >= 0.5 * truth.maps[i].max()) & (others < 0.1 * others.max(axis=1, keepdims=True)).all(0)
        planted = driver.split(":", 1)[1] if driver.startswith("cnn:") else ""
        row = {"model": model, "weights": weights, "network": net.name, "kind": net.kind, "driver": driver,
               "planted_layer": planted, "n_voxels": int(inside.sum()), "share_significant": float(passed[inside].mean()),
               "mean_r": float(scores.mean_r[inside].mean())}
        for b, band in enumerate(scores.bands):
            row[f"share_won_{band}"] = float((winners[inside] == b).mean())
        row["share_won_planted"] = row.get(f"share_won_{planted}", np.nan) if planted else np.nan
        rows.append(row)
    return rows
