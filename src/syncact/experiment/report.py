"""The HTML report of a run: tables, FBN maps, PCC matrices and one card per FBN-filter pair.

It reads the :class:`~syncact.experiment.result.ExperimentResult` (whose cards the experiment computed)
and the run directory; it computes no statistic and runs no model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from syncact import _io
from syncact.analysis import MethodComparison, eq1_vs_eq2, layers_table, models_by_runs
from syncact.config import ExperimentConfig
from syncact.experiment.result import ExperimentResult, PairCard
from syncact.report import figures
from syncact.report.html import data_uri, html_table, json_default, number, render_page, script_hash

SORT_SCRIPT = """
const box = document.getElementById("cards");
const cards = Array.from(box.querySelectorAll(".card"));
function refresh() {
  const query = document.getElementById("query").value.trim().toLowerCase();
  const [key, sign] = document.getElementById("sort").value.split(":");
  const value = (card) => { const v = parseFloat(card.dataset[key]); return Number.isNaN(v) ? -Infinity : Number(sign) * v; };
  cards.sort((a, b) => value(b) - value(a));
  let shown = 0;
  for (const card of cards) {
    const match = !query || card.dataset.text.includes(query);
    card.hidden = !match;
    shown += match ? 1 : 0;
    box.appendChild(card);
  }
  document.getElementById("count").textContent = shown + " of " + cards.length + " pairs";
}
document.getElementById("query").addEventListener("input", refresh);
document.getElementById("sort").addEventListener("change", refresh);
refresh();
"""
"""Search and sort over the pair cards: the page's only script, allowed by its hash in the page's CSP."""

SUMMARY_COLUMNS = ("model", "weights", "layer", "run", "mean_pcc", "mean_pcc_low", "mean_pcc_high", "mean_p_shift",
                   "mean_p_phase", "ratio_not_significant", "n_significant_naive", "n_significant_edf",
                   "n_significant_shift", "n_significant_fdr", "n_significant_phase", "n_mutual", "control_movie_run",
                   "control_mean_pcc", "control_n_significant")


def _sweep_context(comparison: MethodComparison | None) -> dict[str, str] | None:
    if comparison is None:
        return None
    context = {"ablation": html_table(comparison.ablation), "fits": html_table(comparison.fits),
               "matching": html_table(comparison.matching),
               "k_sweep": html_table(comparison.k_sweep.drop(columns=["mean_p_shift"], errors="ignore")),
               "ablation_fig": data_uri(figures.ablation_bars(comparison.ablation)),
               "k_sweep_fig": data_uri(figures.k_sweep_plot(comparison.k_sweep))}
    if comparison.recovery is not None:
        rec = comparison.recovery.groupby(["method", "n_networks", "kind"], sort=False)[["spatial_r", "temporal_r"]].mean()
        context["recovery"] = html_table(rec.reset_index())
    return context


def _terms(descriptions: pd.DataFrame | None, unit: str) -> list[dict[str, object]]:
    if descriptions is None or descriptions.empty:
        return []
    rows = descriptions[descriptions["unit"] == unit].sort_values(["source", "rank"], kind="stable")
    return [{"source": r.source, "term": r.term, "score": number(r.score)} for r in rows.itertuples()]


def _agreements(result: ExperimentResult) -> dict[tuple, dict[str, float | None]]:
    """Each annotated pair's agreement and its p-value, by (model, weights, layer, run, fbn): indexed once."""
    if result.annotation is None:
        return {}
    pairs = result.annotation.pairs
    return {(r["model"], r["weights"], r["layer"], r["run"], r["fbn"]):
            {"agreement": number(r.get("agreement")), "p_agreement": number(r.get("p_agreement"))}
            for r in pairs.to_dict(orient="records")}


def _card(card: PairCard, result: ExperimentResult, agreements: dict[tuple, dict[str, float | None]]) -> dict[str, object]:
    """A card as the page (and ``report/cards.json``) shows it."""
    model, weights, layer, run = card.key
    row = card.row
    ann = result.annotation
    extra = agreements.get((model, weights, layer, run, row["fbn"]), {"agreement": None, "p_agreement": None})
    stem = f"{model}_{weights}_{layer}_run-{run}"
    described = ann.filters.get((model, weights, layer)) if ann is not None else None
    return {
        "id": f"{model}-{weights}-{layer}-{row['fbn']}", "model": model, "weights": weights, "layer": layer,
        "run": run, "fbn": row["fbn"], "filter": row["filter"], "pcc": float(row["pcc"]),
        "pcc_low": number(row.get("pcc_low")), "pcc_high": number(row.get("pcc_high")),
        "p_naive": float(row["p_naive"]), "p_edf": float(row["p_edf"]), "n_eff": float(row["n_eff"]),
        "p_shift": float(row["p_shift"]), "q_shift": float(row["q_shift"]), "p_phase": number(row.get("p_phase")),
        "significant": bool(row["significant"]), **extra,
        "fbn_terms": _terms(ann.fbns if ann is not None else None, row["fbn"]),
        "filter_terms": _terms(described, row["filter"]),
        "top_frames": [{"frame": int(t), "time_s": float(s)} for t, s in zip(card.top_frames, card.frame_times, strict=True)],
        "strip": f"{model}/{layer}/{card.filter}",
        "files": {"pairs": f"../pairing/{stem}_eq2.csv", "fbn_maps": "../brain/fbn_maps.nii.gz",
                  "fbn_activations": f"../brain/activations_run-{run}.csv",
                  "filter_activations": f"../activations/{model}_{weights}/run-{run}.npz",
                  **({"annotation": "../annotation/pairs.csv"} if ann is not None else {})},
    }


def _regression_context(out: Path) -> dict[str, str] | None:
    """The accuracy regression as the run wrote it (table and figure), or None when it was not fitted."""
    table, figure = out / "tables" / "accuracy_regression.csv", out / "figures" / "accuracy_regression.png"
    if not (table.is_file() and figure.is_file()):
        return None
    return {"table": html_table(pd.read_csv(table)), "img": data_uri(figure.read_bytes())}


def write_report(result: ExperimentResult, config: ExperimentConfig, *, mask: np.ndarray, affine: np.ndarray) -> Path:
    """Render ``report/index.html`` (and ``report/cards.json``) inside the run directory; return the page's path.

    The page is self-contained: figures are embedded as data URIs, there is no script, font or style
    sheet from elsewhere, and every string that came from the user is escaped.
    """
    out = result.out_dir
    emb = result.embedding
    first_run = next(iter(result.fbn_activations))
    fbn_cards = [
        {"name": f"FBN-{k:02d}", "img": data_uri(figures.brain_views(emb.maps_[k], mask, affine, f"FBN-{k:02d}"))}
        for k in range(emb.maps_.shape[0])
    ]
    matrices = []
    for (model, weights, layer, run), pairing in result.pairings.items():
        if run == first_run:
            title = f"{model} ({weights}) {layer}, run {run}"
            matrices.append({"title": title, "img": data_uri(figures.correlation_matrix(pairing.r, title))})
    frames = result.frames[first_run]
    cards, strips, traces = [], {}, {}
    agreements = _agreements(result)
    for card in result.cards:
        shown = _card(card, result, agreements)
        cards.append(shown)
        if shown["strip"] not in strips:
            strips[shown["strip"]] = data_uri(figures.frame_strip(frames.images[card.top_frames], card.heatmaps, height=90),
                                              "image/jpeg")
        traces[shown["id"]] = figures.trace_svg(card.fbn_trace, card.filter_trace)
    _io.write_text(out / "report" / "cards.json", json.dumps(cards, indent=1, default=json_default))
    summary = result.summary
    return render_page(
        "report.html", out / "report" / "index.html",
        name=config.name,
        config_toml=config.to_toml(),
        summary=html_table(summary[[c for c in SUMMARY_COLUMNS if c in summary]]),
        models_x_runs=html_table(models_by_runs(summary), index=True),
        models_x_runs_eq1=html_table(models_by_runs(summary, value="mean_pcc_eq1", significant="mean_significant_eq1"),
                                     index=True),
        eq1_vs_eq2=html_table(eq1_vs_eq2(summary)),
        layers=html_table(layers_table(summary)),
        regression=_regression_context(out),
        recovery=html_table(result.recovery) if result.recovery is not None else None,
        spatial_r=(f"{result.recovery['spatial_r'].min():.2f}-{result.recovery['spatial_r'].max():.2f}"
                   if result.recovery is not None else None),
        detection=html_table(result.detection) if result.detection is not None else None,
        training=data_uri(figures.training_curve(emb.history_.to_frame())) if emb.history_ is not None else None,
        method=emb.method,
        sweep=_sweep_context(result.comparison),
        fbns=fbn_cards,
        matrices=matrices,
        cards=cards,
        fbn_images={c["name"]: c["img"] for c in fbn_cards},
        strips=strips,
        traces=traces,
        pair_title=f"last listed layer of every model, run {first_run}",
        sort_script=SORT_SCRIPT,
        script_hash=script_hash(SORT_SCRIPT),
        agreement=(html_table(result.annotation.summary) if result.annotation is not None
                   and len(result.annotation.summary) else None),
        timings={k: f"{v:.1f} s" for k, v in result.timings.items()},
        split=result.split,
        pairing=dataclasses.asdict(config.pairing),  # every [pairing] option, so a new one needs no change here
        n_lags=next(iter(result.pairings.values())).params["n_lags"],
    )
