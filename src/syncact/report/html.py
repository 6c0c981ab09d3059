"""Write the HTML report of a run: tables, FBN maps, PCC matrices and one card per FBN-filter pair."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import numpy as np
import pandas as pd

from syncact import _io
from syncact.ann.registry import model_key, weights_label
from syncact.report import figures
from syncact.sync import hrf_convolve

if TYPE_CHECKING:
    from syncact.config import ExperimentConfig
    from syncact.pipeline import ExperimentResult

logger = logging.getLogger(__name__)

N_TOP_FRAMES = 4


def _b64(image: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def _table(df, index: bool = False, floatfmt: str = "{:.4g}") -> str:  # noqa: ANN001
    return df.to_html(index=index, border=0, classes="tbl", float_format=lambda v: floatfmt.format(v), escape=True)


def _sweep_context(comparison) -> dict[str, str] | None:  # noqa: ANN001 - MethodComparison
    if comparison is None:
        return None
    context = {"ablation": _table(comparison.ablation), "fits": _table(comparison.fits),
               "matching": _table(comparison.matching),
               "k_sweep": _table(comparison.k_sweep.drop(columns=["mean_p_shift"], errors="ignore")),
               "ablation_fig": _b64(figures.ablation_bars(comparison.ablation)),
               "k_sweep_fig": _b64(figures.k_sweep_plot(comparison.k_sweep))}
    if comparison.recovery is not None:
        rec = comparison.recovery.groupby(["method", "n_networks", "kind"], sort=False)[["spatial_r", "temporal_r"]].mean()
        context["recovery"] = _table(rec.reset_index())
    return context


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


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    raise TypeError(type(value))


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _terms(descriptions: pd.DataFrame | None, unit: str) -> list[dict[str, object]]:
    if descriptions is None or descriptions.empty:
        return []
    rows = descriptions[descriptions["unit"] == unit].sort_values(["source", "rank"], kind="stable")
    return [{"source": r.source, "term": r.term, "score": _number(r.score)} for r in rows.itertuples()]


def _pair_cards(result: ExperimentResult, config: ExperimentConfig, run: str) -> tuple[list[dict], dict[str, str]]:
    """One card per Eq.2 pair of every model's last listed layer on one run, and the frame strips they show.

    Cards are plain data (also written as ``report/cards.json``); strips are keyed by ``model/layer/filter``:
    the filter's top frames with its feature map over each frame.
    """
    from syncact.ann import get_model
    from syncact.ann.probe import layer_maps, select_maps
    from syncact.annotate.filters import top_frames

    frames = result.frames[run]
    fbn_act = result.fbn_activations[run]
    ann = result.annotation
    agreement = ann.pairs.set_index(["model", "weights", "layer", "run", "fbn"]) if ann is not None else None
    cards, strips = [], {}
    for spec in config.models:
        weights, layer = weights_label(spec.weights), spec.layers[-1]
        pairing = result.pairings[(spec.name, weights, layer, run)]
        raw = result.activations[(model_key(spec.name, spec.weights), run)].layers[layer]
        # the trace shows the filter as it was paired; the frames are those where it fires (not HRF-delayed)
        paired = raw if config.pairing.hrf == "none" else hrf_convolve(raw, frames.tr, config.pairing.hrf)
        indices = pairing.eq2["filter"].str.rsplit("-", n=1).str[1].astype(int).to_numpy()
        unique = sorted(set(indices))
        top = dict(zip(unique, top_frames(raw, unique, k=N_TOP_FRAMES, min_gap=2), strict=True))
        shown = sorted({int(t) for rows in top.values() for t in rows if t >= 0})
        built = get_model(spec.name, spec.weights, seed=config.seed)
        maps = dict(zip(shown, layer_maps(frames.images[shown], built, layer), strict=True))
        described = ann.filters.get((spec.name, weights, layer)) if ann is not None else None
        for f in unique:
            chosen = [int(t) for t in top[f] if t >= 0]
            heat = select_maps(np.stack([maps[t] for t in chosen]), [f], frames.images.shape[1:3])
            strips[f"{spec.name}/{layer}/{f}"] = _b64(figures.frame_strip(frames.images[chosen], heat, height=90),
                                                        "image/jpeg")
        for k, row in enumerate(pairing.eq2.itertuples()):
            f = int(indices[k])
            extra: dict[str, float | None] = {"agreement": None, "p_agreement": None}
            if agreement is not None and (spec.name, weights, layer, run, row.fbn) in agreement.index:
                match = agreement.loc[(spec.name, weights, layer, run, row.fbn)]
                extra = {"agreement": _number(match.get("agreement")), "p_agreement": _number(match.get("p_agreement"))}
            stem = f"{spec.name}_{weights}_{layer}_run-{run}"
            cards.append({
                "id": f"{spec.name}-{weights}-{layer}-{row.fbn}", "model": spec.name, "weights": weights, "layer": layer,
                "run": run, "fbn": row.fbn, "filter": row.filter, "pcc": float(row.pcc),
                "pcc_low": _number(getattr(row, "pcc_low", None)), "pcc_high": _number(getattr(row, "pcc_high", None)),
                "p_naive": float(row.p_naive), "p_edf": float(row.p_edf), "n_eff": float(row.n_eff),
                "p_shift": float(row.p_shift), "q_shift": float(row.q_shift), "p_phase": _number(getattr(row, "p_phase", None)),
                "significant": bool(row.significant), **extra,
                "fbn_terms": _terms(ann.fbns if ann is not None else None, row.fbn),
                "filter_terms": _terms(described, row.filter),
                "top_frames": [{"frame": t, "time_s": float(frames.times[t])} for t in top[f] if t >= 0],
                "strip": f"{spec.name}/{layer}/{f}",
                "files": {"pairs": f"../pairing/{stem}_eq2.csv", "fbn_maps": "../brain/fbn_maps.nii.gz",
                          "fbn_activations": f"../brain/activations_run-{run}.csv",
                          "filter_activations": f"../activations/{spec.name}_{weights}/run-{run}.npz",
                          **({"annotation": "../annotation/pairs.csv"} if ann is not None else {})},
                "_trace": figures.trace_svg(fbn_act[:, int(row.fbn.rsplit("-", 1)[1])], paired[:, f]),
            })
    return cards, strips


def _regression_context(out: Path) -> dict[str, str] | None:
    """The accuracy regression as the pipeline wrote it (table and figure), or None when it was not fitted."""
    table, figure = out / "tables" / "accuracy_regression.csv", out / "figures" / "accuracy_regression.png"
    if not (table.is_file() and figure.is_file()):
        return None
    import pandas as pd

    return {"table": _table(pd.read_csv(table)), "img": _b64(figure.read_bytes())}


def write_report(result: ExperimentResult, config: ExperimentConfig, *, mask: np.ndarray, affine: np.ndarray) -> Path:
    """Render ``report/index.html`` inside the run directory and return its path.

    The page is self-contained: figures are embedded as data URIs, there is no script, font or style
    sheet from elsewhere, and every string that came from the user is escaped.
    """
    from syncact.analysis import eq1_vs_eq2, layers_table, models_by_runs

    out = result.out_dir
    emb = result.embedding
    first_run = next(iter(result.fbn_activations))
    fbn_cards = [
        {"name": f"FBN-{k:02d}", "img": _b64(figures.brain_views(emb.maps_[k], mask, affine, f"FBN-{k:02d}"))}
        for k in range(emb.maps_.shape[0])
    ]
    matrices = []
    for (model, weights, layer, run), pairing in result.pairings.items():
        if run == first_run:
            title = f"{model} ({weights}) {layer}, run {run}"
            matrices.append({"title": title, "img": _b64(figures.correlation_matrix(pairing.r, title))})

    cards, strips = _pair_cards(result, config, first_run)
    traces = {c["id"]: c.pop("_trace") for c in cards}
    _io.write_text(out / "report" / "cards.json", json.dumps(cards, indent=1, default=_json_default))
    summary_cols = [c for c in ("model", "weights", "layer", "run", "mean_pcc", "mean_pcc_low", "mean_pcc_high",
                                "mean_p_shift", "mean_p_phase", "ratio_not_significant", "n_significant_naive",
                                "n_significant_edf", "n_significant_shift", "n_significant_fdr", "n_significant_phase",
                                "n_mutual", "control_movie_run", "control_mean_pcc", "control_n_significant")
                    if c in result.summary]
    regression = _regression_context(out)
    context = {
        "name": config.name,
        "config_toml": config.to_toml(),
        "summary": _table(result.summary[summary_cols]),
        "models_x_runs": _table(models_by_runs(result.summary), index=True),
        "models_x_runs_eq1": _table(models_by_runs(result.summary, value="mean_pcc_eq1",
                                                   significant="mean_significant_eq1"), index=True),
        "eq1_vs_eq2": _table(eq1_vs_eq2(result.summary)),
        "layers": _table(layers_table(result.summary)),
        "regression": regression,
        "recovery": _table(result.recovery) if result.recovery is not None else None,
        "spatial_r": (f"{result.recovery['spatial_r'].min():.2f}-{result.recovery['spatial_r'].max():.2f}"
                      if result.recovery is not None else None),
        "detection": _table(result.detection) if result.detection is not None else None,
        "training": _b64(figures.training_curve(emb.history_.to_frame())) if emb.history_ is not None else None,
        "method": emb.method,
        "sweep": _sweep_context(result.comparison),
        "fbns": fbn_cards,
        "matrices": matrices,
        "cards": cards,
        "fbn_images": {c["name"]: c["img"] for c in fbn_cards},
        "strips": strips,
        "traces": traces,
        "pair_title": f"last listed layer of every model, run {first_run}",
        "sort_script": SORT_SCRIPT,
        "script_hash": _script_hash(SORT_SCRIPT),
        "agreement": (_table(result.annotation.summary) if result.annotation is not None
                      and len(result.annotation.summary) else None),
        "timings": {k: f"{v:.1f} s" for k, v in result.timings.items()},
        "split": result.split,
        "alpha": config.pairing.alpha,
        "hrf": config.pairing.hrf,
        "n_lags": next(iter(result.pairings.values())).params["n_lags"],
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("syncact.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]))
    html = env.get_template("report.html").render(**context)
    return _io.write_text(out / "report" / "index.html", html)
