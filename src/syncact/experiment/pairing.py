"""Pairing as units, and the paper's tables from the pairings: models x runs, Eq.1 vs Eq.2, layers, accuracy."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from syncact.analysis import accuracy_regression, eq1_vs_eq2, layers_table, models_by_runs
from syncact.ann.registry import model_key, weights_label
from syncact.config import ExperimentConfig
from syncact.experiment.layout import RunDirectory
from syncact.experiment.result import PairingKey
from syncact.experiment.units import pair_layer_unit
from syncact.report.figures import accuracy_regression_plot
from syncact.sync import Pairing
from syncact.units import Dep, Plan

logger = logging.getLogger(__name__)

PRIORITY_PAIR = 5
"""Pairing units start before extraction and encoding units that wait beside them (they end the longest path)."""


def plan_pairings(fbns: Mapping[str, Dep | Mapping[str, np.ndarray]], extracted: Mapping[tuple[str, str], Dep],
                  config: ExperimentConfig, tr: float, plan: Plan) -> dict[PairingKey, str]:
    """Add one unit per model x layer x run to ``plan``: that run's FBNs against the layer's filters
    (:func:`~syncact.experiment.units.pair_layer_unit`), the next run's movie as the mismatched control.

    Parameters
    ----------
    fbns : dict of run label to Dep or dict
        The transform unit of each run, or its result (``per_subject``, ``mean``).
    extracted : dict of (model key, run label) to Dep
        The extraction units.
    config : ExperimentConfig
    tr : float
    plan : Plan

    Returns
    -------
    dict of PairingKey to str
        The unit of each pairing.
    """
    labels = list(fbns)
    names = {}
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        for label in labels:
            other = labels[(labels.index(label) + 1) % len(labels)] if len(labels) > 1 else None
            for layer in spec.layers:
                name = f"pair/{spec.name}/{weights}/{layer}/run-{label}"
                names[PairingKey(spec.name, weights, layer, label)] = name
                plan.add(name, pair_layer_unit, fbns=fbns[label], acts=extracted[(key, label)],
                         control=None if other is None else extracted[(key, other)], layer=layer, control_run=other,
                         pairing=config.pairing, seed=config.seed, tr=tr, priority=PRIORITY_PAIR)
    return names


def collect_pairings(done: Mapping[str, object], names: Mapping[PairingKey, str], top1: Mapping[str, float | None],
                     run_dir: RunDirectory, seed: int) -> tuple[dict[PairingKey, Pairing], pd.DataFrame]:
    """The pairings of :func:`plan_pairings`' units; writes each pairing's tables and the paper's tables.

    ``top1`` holds each model key's ImageNet top-1 accuracy (None when unknown). Returns the pairings and the
    summary table (one row per model x weights x layer x run).
    """
    pairings: dict[PairingKey, Pairing] = {}
    rows = []
    for key, name in names.items():
        pairing, extra = done[name]
        pairings[key] = pairing
        run_dir.write_pairing(key.model, key.weights, key.layer, key.run, pairing.eq2, pairing.eq1)
        rows.append({"model": key.model, "weights": key.weights, "layer": key.layer, "run": key.run,
                     "top1_accuracy": top1.get(f"{key.model}/{key.weights}"), **pairing.summary(), **extra})
    summary = pd.DataFrame(rows)
    write_tables(summary, run_dir, seed)
    return pairings, summary


def write_tables(summary: pd.DataFrame, run_dir: RunDirectory, seed: int) -> None:
    """The paper's tables from the summary: models x runs (Eq.2 and Eq.1), Eq.1 vs Eq.2, layers, and the
    accuracy regression."""
    run_dir.write_table("summary", summary)
    run_dir.write_table("models_x_runs", models_by_runs(summary), index=True)
    run_dir.write_table("models_x_runs_eq1", models_by_runs(summary, value="mean_pcc_eq1",
                                                           significant="mean_significant_eq1"), index=True)
    run_dir.write_table("eq1_vs_eq2", eq1_vs_eq2(summary))
    run_dir.write_table("layers", layers_table(summary))
    write_accuracy_regression(summary, run_dir, seed)


def write_accuracy_regression(summary: pd.DataFrame, run_dir: RunDirectory, seed: int) -> None:
    """Mean PCC on ImageNet top-1 accuracy (the paper's Fig. 7), when at least 3 ImageNet models have one."""
    known = summary[(summary["weights"] == "imagenet") & summary["top1_accuracy"].notna()]
    if known["model"].nunique() < 3:
        logger.info("fewer than 3 ImageNet models with a top-1 accuracy: no accuracy regression.")
        return
    fit = accuracy_regression(summary, seed=seed)
    run_dir.write_table("accuracy_regression", fit.to_frame())
    run_dir.write_table("accuracy_points", fit.points)
    run_dir.write_figure("accuracy_regression",
                         accuracy_regression_plot(fit.points, fit.slope, fit.intercept, fit.r2, fit.p_value))
