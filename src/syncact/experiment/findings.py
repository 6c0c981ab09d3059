"""What a run found, in sentences whose every number is quoted from one of the run's tables.

:func:`findings` reads the tables a run wrote (``tables/*.csv``) and returns :class:`Findings`:
sentences made of text and :class:`~syncact.report.quotes.Quote` parts. A quote keeps the table, the
rows, the column and the aggregate it was computed from, so the report links each number to its table
and a test recomputes every number from the files (``tests/experiment/test_run.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from syncact.report.quotes import Quote, quote, select
from syncact.sync.pairing import CALIBRATED_LENGTHS, LIBERAL_FILTERS

TABLES = ("summary", "layers", "eq1_vs_eq2", "accuracy_regression", "recovery", "detection", "agreement", "encoding",
          "encoding_fbns", "encoding_truth", "encoding_networks")
"""The run tables the summary quotes (``tables/<name>.csv``); the page shows each with the id ``t-<name>``."""


@dataclass
class Findings:
    """The summary of a run.

    Attributes
    ----------
    sentences : list of list of (str or Quote)
    tiles : list of dict
        Headline figures: ``label``, ``quote``, ``of`` (a denominator quote or None) and ``note``.
    caveats : list of str
    """

    sentences: list[list[str | Quote]] = field(default_factory=list)
    tiles: list[dict[str, object]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)

    def quotes(self) -> list[Quote]:
        """Every quoted number, the tiles' included."""
        quoted = [part for sentence in self.sentences for part in sentence if isinstance(part, Quote)]
        return quoted + [q for tile in self.tiles for q in (tile["quote"], tile.get("of")) if q is not None]

    def text(self) -> str:
        """The sentences as plain text."""
        return " ".join("".join(p.text if isinstance(p, Quote) else p for p in s) for s in self.sentences)


def _label(row: pd.Series) -> str:
    return f"{row['model']} {row['layer']} ({row['weights']}), run {row['run']}"


def _share(a: Quote, b: Quote) -> str:
    return f"{100 * a.value / b.value:.0f} %" if b.value else "–"


def read_tables(out: str | Path) -> dict[str, pd.DataFrame]:
    """The run's tables that the summary quotes, by name (those that exist)."""
    folder = Path(out) / "tables"
    return {name: pd.read_csv(folder / f"{name}.csv") for name in TABLES if (folder / f"{name}.csv").is_file()}


def findings(tables: dict[str, pd.DataFrame], *, alpha: float, n_timepoints: dict[str, int]) -> Findings:
    """The run's findings, quoted from its tables.

    Parameters
    ----------
    tables : dict of str to DataFrame
        ``summary`` and ``layers`` at least; ``eq1_vs_eq2``, ``accuracy_regression``, ``recovery``,
        ``detection``, ``agreement`` when the run wrote them (see :func:`read_tables`).
    alpha : float
        The pairing's significance level.
    n_timepoints : dict of run to int
        Time points of each run (for the caveat on short runs).

    Returns
    -------
    Findings
    """
    summary = tables["summary"]
    out = Findings()
    best = summary.loc[summary["mean_pcc"].idxmax()]
    worst = summary.loc[summary["mean_pcc"].idxmin()]
    key = {k: best[k] for k in ("model", "weights", "layer", "run")}
    highest = quote(tables, "summary", "mean_pcc", "max")
    sentence: list[str | Quote] = ["Mean PCC of the Eq.2 pairs (each FBN with its best filter) ranged from ",
                                   quote(tables, "summary", "mean_pcc", "min"), f" ({_label(worst)}) to ", highest,
                                   f" ({_label(best)}"]
    if "mean_pcc_low" in summary and pd.notna(best.get("mean_pcc_low")):
        sentence += ["; interval over test subjects ", quote(tables, "summary", "mean_pcc_low", **key), " to ",
                     quote(tables, "summary", "mean_pcc_high", **key)]
    out.tiles.append({"label": "Best mean PCC", "quote": highest, "of": None, "note": _label(best)})
    n_sig = quote(tables, "summary", "mean_significant", "sum")
    sentence += ["); the mean was significant in ", n_sig, f" of {len(summary)} pairings (circular-shift test)."]
    out.sentences.append(sentence)

    pairs, sig = quote(tables, "summary", "n_fbns", "sum"), quote(tables, "summary", "n_significant_shift", "sum")
    sentence = [sig, " of ", pairs, f" FBN-filter pairs ({_share(sig, pairs)}) were significant at alpha = {alpha:g}"]
    out.tiles.append({"label": "Significant pairs", "quote": sig, "of": pairs, "note": "circular-shift test, all pairings"})
    if "n_significant_fdr" in summary:
        sentence += [" (", quote(tables, "summary", "n_significant_fdr", "sum"), " after FDR)"]
    out.sentences.append([*sentence, "."])

    if "control_n_significant" in summary and summary["control_n_significant"].notna().all():
        c_sig = quote(tables, "summary", "control_n_significant", "sum")
        c_pcc, t_pcc = quote(tables, "summary", "control_mean_pcc", "mean"), quote(tables, "summary", "mean_pcc", "mean")
        out.tiles.append({"label": "Control false positives", "quote": c_sig, "of": pairs,
                          "note": f"another run's movie; alpha expects about {alpha * pairs.value:.0f}"})
        out.sentences.append([
            "Paired with another run's movie (a control that nothing links), ", c_sig, " of ", pairs,
            f" pairs ({_share(c_sig, pairs)}) were significant, where alpha = {alpha:g} expects about "
            f"{alpha * pairs.value:.0f}; their mean PCC was ", c_pcc, " against ", t_pcc, " with the true movie."])

    layers = tables["layers"]
    for (model, weights), rows in layers.groupby(["model", "weights"], sort=False):
        if len(rows) < 2:
            continue
        first, last = rows.iloc[0], rows.iloc[-1]
        out.sentences.append([
            f"In {model} ({weights}), mean PCC over runs was ",
            quote(tables, "layers", "mean_pcc", model=model, weights=weights, layer=first["layer"]),
            f" in {first['layer']} and ",
            quote(tables, "layers", "mean_pcc", model=model, weights=weights, layer=last["layer"]),
            f" in {last['layer']}."])

    if "eq1_vs_eq2" in tables:
        out.sentences.append(["Averaged over models and layers, each filter with its best FBN (Eq.1) gave ",
                              quote(tables, "eq1_vs_eq2", "mean_pcc_eq1", "mean"), " against ",
                              quote(tables, "eq1_vs_eq2", "mean_pcc_eq2", "mean"), " for Eq.2."])

    if "accuracy_regression" in tables:
        out.sentences.append([
            "Across ", quote(tables, "accuracy_regression", "n_models"), " ImageNet models, mean PCC changed by ",
            quote(tables, "accuracy_regression", "slope"), " per point of top-1 accuracy (R² = ",
            quote(tables, "accuracy_regression", "r2"), ", p = ", quote(tables, "accuracy_regression", "p_value"), ")."])

    if "recovery" in tables:
        recovery = tables["recovery"]
        median = quote(tables, "recovery", "spatial_r", "median")
        out.tiles.append({"label": "Planted maps recovered", "quote": median, "of": None,
                          "note": "median map r of the best FBN (simulated data)"})
        sentence = ["Of the planted networks, the best FBN map correlated with the planted map at ", median, " (median; lowest ",
                    quote(tables, "recovery", "spatial_r", "min"), ")"]
        temporal = [c for c in recovery if c.startswith("temporal_r_run-")]
        driven = recovery[recovery["kind"] == "stimulus"]
        if temporal and len(driven):
            sentence += ["; the activations of the FBNs carrying stimulus-driven networks tracked the planted BOLD at ",
                         quote(tables, "recovery", temporal[0], "min", kind="stimulus"), " to ",
                         quote(tables, "recovery", temporal[0], "max", kind="stimulus"),
                         f" (run {temporal[0].rsplit('-', 1)[1]})"]
        out.sentences.append([*sentence, "."])
    if "detection" in tables:
        detection = tables["detection"]
        roles = set(detection["fbn_role"])
        if {"driven", "unrelated"} <= roles:
            out.sentences.append([
                "FBNs that track a planted driven network paired significantly in ",
                quote(tables, "detection", "share_shift", "mean", fbn_role="driven"),
                " of cases (power, mean over pairings); FBNs that track none in ",
                quote(tables, "detection", "share_shift", "mean", fbn_role="unrelated"), " (false positives)."])

    if "agreement" in tables and len(tables["agreement"]):
        out.sentences.append(["The descriptions of paired FBNs and filters agreed at ",
                              quote(tables, "agreement", "mean_agreement", "mean"), " against ",
                              quote(tables, "agreement", "mean_agreement_null", "mean"), " for shuffled pairs."])

    if "encoding" in tables:
        enc = tables["encoding"]
        for (model, weights), _ in enc.groupby(["model", "weights"], sort=False):
            key = {"model": model, "weights": weights}
            sentence = [f"Encoding with {model} ({weights}) layers (banded ridge, leave one run out) predicted ",
                        quote(tables, "encoding", "share_significant", "value", **key),
                        " of voxels beyond their circular-shift null (with another run's movie: ",
                        quote(tables, "encoding", "false_positive_rate", "value", **key), ")"]
            if "encoding_fbns" in tables:
                n = int(len(select(tables["encoding_fbns"], key)))
                sentence += ["; ", quote(tables, "encoding_fbns", "same_layer", "sum", **key),
                             f" of {n} FBNs are best predicted by the layer of their best Eq.2 pair"]
            out.sentences.append([*sentence, "."])
            networks = select(tables["encoding_networks"], key) if "encoding_networks" in tables else pd.DataFrame()
            if len(networks) and networks["share_significant"].max() > 0:
                best = networks.loc[networks["share_significant"].idxmax()]
                where = {"network": best.network, **key}
                out.sentences.append([f"Of the atlas networks, the {best.network} network's voxels were predicted most "
                                      "often (", quote(tables, "encoding_networks", "share_significant", "value", **where),
                                      "; median r / ceiling ",
                                      quote(tables, "encoding_networks", "median_ceiled_r", "value", **where),
                                      f"), most of them best by {best.best_band}."])
    if "encoding_truth" in tables:
        truth = tables["encoding_truth"]
        for model, weights in truth.loc[truth["kind"] == "spontaneous", ["model", "weights"]].drop_duplicates().itertuples(
                index=False):
            out.sentences.append([f"Voxels of the planted spontaneous networks were predicted by {model} in ",
                                  quote(tables, "encoding_truth", "share_significant", "mean", model=model,
                                        weights=weights, kind="spontaneous"), " of cases (mean over networks; chance: 5 %)."])
        for row in truth.itertuples():
            if pd.isna(row.share_won_planted):  # not CNN-driven, or its layer is not among this model's bands
                continue
            out.sentences.append([f"The voxels of the planted {row.network} network (driven by {row.planted_layer}) were "
                                  f"explained best by {row.planted_layer} of {row.model} in ",
                                  quote(tables, "encoding_truth", "share_won_planted", "value", model=row.model,
                                        network=row.network), " of cases."])

    liberal = summary.loc[summary["n_filters"] > LIBERAL_FILTERS, ["model", "layer"]].drop_duplicates()
    if len(liberal):
        names = ", ".join(f"{r.model} {r.layer}" for r in liberal.itertuples())
        out.caveats.append(f"{names}: more than {LIBERAL_FILTERS:,} filters, where the circular-shift test measured a "
                           f"per-pair false-positive rate of 0.061 at alpha 0.05 (docs/statistics.md): read p as about "
                           "one point liberal, or set [pairing] fdr = \"by\".")
    short = {run: n for run, n in n_timepoints.items() if n < CALIBRATED_LENGTHS[0]}
    if short:
        out.caveats.append(f"run(s) {', '.join(f'{r} ({n} TRs)' for r, n in short.items())}: shorter than the "
                           f"{CALIBRATED_LENGTHS[0]} time points over which the shift test's level was measured.")
    return out
