"""``[encoding]``: voxelwise and FBN encoding models beside the pairing, their noise ceiling and a null.

For every model, its configured layers are feature bands (:func:`syncact.encoding.band_features`) and a
banded ridge predicts, leaving one run out, (a) every voxel of the test subjects' mean BOLD and (b) every
FBN's test-mean activation. The noise ceiling comes from the leave-one-out ISC among the test subjects (for
their mean). The null: the same fit with each run's features paired with another run's BOLD (movies that
nothing links; runs of equal length). A voxel counts as predicted when its held-out r passes its own
circular-shift null (``EncodingScores.p_shift`` <= 0.05: the null keeps each voxel's autocorrelation, so slow
spontaneous fluctuations are not mistaken for prediction); the share of the mismatched-movie fit's voxels that
pass the same test is the false-positive rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from syncact.analysis import GroundTruth
from syncact.ann.registry import model_key, weights_label
from syncact.config import ExperimentConfig
from syncact.encoding import (
    EncodingResult,
    EncodingScores,
    band_features,
    ceiled,
    default_delays,
    fit_encoding,
    isc,
    jackknife_ceiled,
    mean_ceiling,
)
from syncact.encoding.store import atlas_networks
from syncact.encoding.summary import ALPHA, band_table, network_table, score_maps
from syncact.experiment.layout import RunDirectory
from syncact.experiment.result import PairingKey
from syncact.sync import Pairing


def _ceiling(per_subject: list[np.ndarray]) -> np.ndarray:
    """Noise ceiling for the subjects' mean (:func:`~syncact.encoding.mean_ceiling`); NaN with one subject."""
    if per_subject[0].shape[0] < 2:  # (n_subjects, T, n_targets) per run: no other subject to correlate with
        return np.full(per_subject[0].shape[2], np.nan)
    return mean_ceiling([isc(data) for data in per_subject])


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


def encode(bold_test: dict[str, list[np.ndarray]], fbn_per_subject: dict[str, np.ndarray],
           filters: dict[tuple[str, str, str], np.ndarray], config: ExperimentConfig, tr: float,
           pairings: dict[PairingKey, Pairing], truth: GroundTruth | None, run_dir: RunDirectory, store: object,
           progress: bool) -> EncodingResult:
    """Fit and score the encoding models of every configured model; write tables and maps.

    Parameters
    ----------
    bold_test : dict of run to list of ndarray
        Per run, each test subject's prepared BOLD, (T, n_voxels).
    fbn_per_subject : dict of run to ndarray of shape (n_subjects, T, n_fbns)
    filters : dict of (model key, run, layer) to ndarray of shape (T, n_filters)
        Every filter of every layer and run (the same columns in every run).
    config : ExperimentConfig
    tr : float
    pairings : dict of PairingKey to Pairing
    truth : GroundTruth or None
    run_dir : RunDirectory
    store : PreparedStore
        To write maps on the store's grid.
    progress : bool

    Returns
    -------
    EncodingResult
    """
    ec = config.encoding
    runs = list(bold_test)
    delays = list(ec.delays) if ec.delays is not None else default_delays(tr)
    voxel_targets = [np.mean(bold_test[r], axis=0) for r in runs]
    fbn_targets = [fbn_per_subject[r].mean(axis=0) for r in runs]
    ceiling = _ceiling([np.stack(bold_test[r]) for r in runs])
    fbn_ceiling = _ceiling([fbn_per_subject[r] for r in runs])
    equal = len(runs) >= 2 and len({len(t) for t in voxel_targets}) == 1
    rotated = runs[1:] + runs[:1]
    kwargs = {"n_iter": ec.n_iter, "chunk_size": ec.chunk_size, "solver": ec.solver, "backend": ec.backend,
              "seed": config.seed, "progress": progress}
    voxels, fbns, null = {}, {}, {}
    band_tables, fbn_tables, network_tables, truth_rows = [], [], [], []
    networks = atlas_networks(store)
    fbn_data = [fbn_per_subject[r] for r in runs]
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        raw = {layer: [filters[(key, r, layer)] for r in runs] for layer in spec.layers}
        bands = band_features(raw, delays, n_components=ec.n_components)
        voxels[key] = fit_encoding(bands, voxel_targets, **kwargs)
        fbns[key] = fit_encoding(bands, fbn_targets, keep_predictions=True, **kwargs)
        if equal:
            shifted = {layer: [bands[layer][runs.index(r)] for r in rotated] for layer in bands}
            null[key] = fit_encoding(shifted, voxel_targets, **kwargs)
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
