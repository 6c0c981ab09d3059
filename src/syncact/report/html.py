"""Write the HTML report of a run: tables, FBN maps, PCC matrices and one card per FBN-filter pair."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import numpy as np

from syncact import _io
from syncact.ann.registry import model_key, weights_label
from syncact.report import figures
from syncact.sync import hrf_convolve

if TYPE_CHECKING:
    from syncact.config import ExperimentConfig
    from syncact.pipeline import ExperimentResult

logger = logging.getLogger(__name__)

N_TOP_FRAMES = 4


def _b64(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


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
        {"name": f"FBN-{k:02d}", "img": _b64(figures.glass_brain(emb.maps_[k], mask, affine, f"FBN-{k:02d}"))}
        for k in range(emb.maps_.shape[0])
    ]
    matrices = []
    for (model, weights, layer, run), pairing in result.pairings.items():
        if run == first_run:
            title = f"{model} ({weights}) {layer}, run {run}"
            matrices.append({"title": title, "img": _b64(figures.correlation_matrix(pairing.r, title))})

    # Pair cards for the first model's last listed layer on the first run.
    model0 = config.models[0]
    key = (model0.name, weights_label(model0.weights), model0.layers[-1], first_run)
    pairing = result.pairings[key]
    frames = result.frames[first_run]
    acts = result.activations[(model_key(model0.name, model0.weights), first_run)].layers[model0.layers[-1]]
    fbn_act = result.fbn_activations[first_run]
    if config.pairing.hrf != "none":  # show the filter as it was paired
        acts = hrf_convolve(acts, frames.tr, config.pairing.hrf)
    pair_cards = []
    for k, row in pairing.eq2.sort_values("pcc", ascending=False).iterrows():
        f = int(row["filter"].split("-")[-1])
        top = np.argsort(-acts[:, f])[:N_TOP_FRAMES]
        pair_cards.append({
            "fbn": row["fbn"], "filter": row["filter"], "pcc": row["pcc"], "p_naive": row["p_naive"],
            "p_shift": row["p_shift"], "q_shift": row["q_shift"], "significant": bool(row["significant"]),
            "p_edf": row["p_edf"], "n_eff": row["n_eff"], "p_phase": row.get("p_phase"),
            "ci": (row["pcc_low"], row["pcc_high"]) if "pcc_low" in row else None,
            "map": fbn_cards[k]["img"],
            "frames": _b64(figures.frame_strip(frames.images[top])),
            "frame_times": ", ".join(f"{frames.times[t]:.1f} s" for t in top),
            "trace": _b64(figures.pair_trace(fbn_act[:, k], acts[:, f], frames.tr, f"{row['fbn']} vs {row['filter']}")),
        })
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
        "pairs": pair_cards,
        "pair_title": f"{model0.name} ({weights_label(model0.weights)}) {model0.layers[-1]}, run {first_run}",
        "timings": {k: f"{v:.1f} s" for k, v in result.timings.items()},
        "split": result.split,
        "alpha": config.pairing.alpha,
        "hrf": config.pairing.hrf,
        "n_lags": pairing.params["n_lags"],
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("syncact.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]))
    html = env.get_template("report.html").render(**context)
    return _io.write_text(out / "report" / "index.html", html)
