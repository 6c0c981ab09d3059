"""The HTML report of a run: tables, FBN maps, PCC matrices and one card per FBN-filter pair.

It reads the :class:`~syncact.experiment.result.ExperimentResult` (whose cards the experiment computed)
and the run directory; it computes no statistic and runs no model.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from syncact import _io
from syncact.analysis import MethodComparison, eq1_vs_eq2, layers_table
from syncact.brain import PreparedStore
from syncact.config import ExperimentConfig
from syncact.experiment.findings import findings, read_tables
from syncact.experiment.methods import methods_paragraphs
from syncact.experiment.result import ExperimentResult, PairCard
from syncact.report import figures
from syncact.report.html import SORT_TABLES, data_uri, json_default, number, render_page, script_hash
from syncact.report.quotes import quote_html, sentence_html
from syncact.report.surface import store_picture
from syncact.report.tables import Column, readable_table

SCRIPT = SORT_TABLES + """
const box = document.getElementById("cards");
if (box) {
  const cards = Array.from(box.querySelectorAll(".card"));
  const refresh = () => {
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
  };
  document.getElementById("query").addEventListener("input", refresh);
  document.getElementById("sort").addEventListener("change", refresh);
  refresh();
}
"""
"""The page's only script (allowed by its hash in the page's CSP): sortable tables, search and sort over the cards."""

PAIRING_KEYS = ["model", "weights", "layer", "run"]
MEAN_COLUMNS = ["mean_pcc", "mean_pcc_low", "mean_pcc_high", "mean_p_shift", "n_fbns", "n_significant_shift",
                "n_significant_fdr", "control_movie_run", "control_mean_pcc", "control_n_significant"]
"""The summary's headline columns per pairing (table ``t-summary``, which the summary's quotes link to)."""
TEST_COLUMNS = ["n_fbns", "n_significant_naive", "n_significant_edf", "n_significant_shift", "n_significant_fdr",
                "n_significant_phase", "n_mutual", "mean_pcc_eq1", "n_filters", "n_significant_eq1"]
"""Significant pairs per test (table ``t-tests``)."""


def _pivot(summary: pd.DataFrame, value: str, significant: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Models x runs values and their significance flags (the paper's Tables 5-6 and appendix Table 8)."""
    label = summary["model"] + " / " + summary["weights"] + " / " + summary["layer"]
    runs = "Run #" + summary["run"].astype(str)
    frame = summary.assign(label=label, run_label=runs)
    values = frame.pivot(index="label", columns="run_label", values=value)
    flags = frame.pivot(index="label", columns="run_label", values=significant).astype(object)
    values.index.name = flags.index.name = "model / weights / layer"
    values.columns.name = flags.columns.name = None
    order = list(dict.fromkeys(label))
    return values.reindex(order), flags.reindex(order)


def _sweep_context(comparison: MethodComparison | None) -> dict[str, str] | None:
    if comparison is None:
        return None
    context = {"ablation": readable_table(comparison.ablation, table_id="t-ablation"),
               "fits": readable_table(comparison.fits, table_id="t-fits"),
               "matching": readable_table(comparison.matching, table_id="t-matching"),
               "k_sweep": readable_table(comparison.k_sweep.drop(columns=["mean_p_shift"], errors="ignore"),
                                         table_id="t-k-sweep"),
               "ablation_fig": data_uri(figures.ablation_bars(comparison.ablation)),
               "k_sweep_fig": data_uri(figures.k_sweep_plot(comparison.k_sweep))}
    if comparison.recovery is not None:
        rec = comparison.recovery.groupby(["method", "n_networks", "kind"], sort=False)[["spatial_r", "temporal_r"]].mean()
        context["recovery"] = readable_table(rec.reset_index(), table_id="t-sweep-recovery")
    return context


Terms = dict[object, dict[str, list[dict[str, object]]]]
"""Descriptions by unit: ``terms["fbns"][fbn]`` and ``terms[(model, weights, layer)][filter]``."""


ATLAS_NETWORK = {"network": Column("Network", "Atlas network (Dosenbach 2010: voxels within 6 mm of one of its ROI "
                                            "centres).")}


def _encoding_context(result: ExperimentResult, store: PreparedStore) -> dict[str, object] | None:
    """The encoding section: tables, and per model its r map above the null and (volumes) its winner-take-all layer
    map."""
    enc = result.encoding
    if enc is None:
        return None
    maps = []
    for key, scores in enc.voxels.items():
        model, weights = key.split("/")
        passed = scores.significant()
        entry = {"label": f"{model} ({weights})", "r": None, "winner": None}
        if passed.any():
            entry["r"] = data_uri(store_picture(store, np.where(passed, scores.mean_r, 0.0),
                                                f"{model}: r of predicted voxels", threshold=0.01))
        if passed.any() and store.kind == "nifti":
            mask_img = store.mask_img()
            mask, affine = np.asarray(mask_img.dataobj, dtype=bool), mask_img.affine
            labels = np.zeros(mask.shape, dtype=int)
            labels[mask] = np.where(passed, scores.winner() + 1, 0)
            entry["winner"] = data_uri(figures.label_views(labels, mask, affine, scores.bands,
                                                           f"{model}: the layer that explains most of each voxel"))
        maps.append(entry)
    fbn_flags = enc.fbn_table[["same_layer"]].rename(columns={"same_layer": "encoding_layer"}).astype(object)
    return {"table": readable_table(enc.table, table_id="t-encoding"),
            "fbns": readable_table(enc.fbn_table.drop(columns=["same_layer"]), flags=fbn_flags,
                                   table_id="t-encoding_fbns",
                                   links={"fbn": {f: f"#fbn-{f}" for f in enc.fbn_table["fbn"]}}),
            "truth": readable_table(enc.truth, table_id="t-encoding_truth") if enc.truth is not None else None,
            "networks": (readable_table(enc.networks, table_id="t-encoding_networks", glossary=ATLAS_NETWORK)
                         if enc.networks is not None else None),
            "maps": maps}


def _by_unit(descriptions: pd.DataFrame | None) -> dict[str, list[dict[str, object]]]:
    """A description table as lists of terms per unit, best first within a source (indexed once, not per card)."""
    if descriptions is None or descriptions.empty:
        return {}
    rows = descriptions.sort_values(["unit", "source", "rank"], kind="stable")
    out: dict[str, list[dict[str, object]]] = {}
    for r in rows.itertuples():
        out.setdefault(r.unit, []).append({"source": r.source, "term": r.term, "score": number(r.score)})
    return out


def _index_terms(result: ExperimentResult) -> Terms:
    ann = result.annotation
    if ann is None:
        return {}
    return {"fbns": _by_unit(ann.fbns), **{key: _by_unit(table) for key, table in ann.filters.items()}}


def _agreements(result: ExperimentResult) -> dict[tuple, dict[str, float | None]]:
    """Each annotated pair's agreement and its p-value, by (model, weights, layer, run, fbn): indexed once."""
    if result.annotation is None:
        return {}
    pairs = result.annotation.pairs
    return {(r["model"], r["weights"], r["layer"], r["run"], r["fbn"]):
            {"agreement": number(r.get("agreement")), "p_agreement": number(r.get("p_agreement"))}
            for r in pairs.to_dict(orient="records")}


def _card(card: PairCard, result: ExperimentResult, agreements: dict[tuple, dict[str, float | None]],
          terms: Terms) -> dict[str, object]:
    """A card as the page (and ``report/cards.json``) shows it."""
    model, weights, layer, run = card.key
    row = card.row
    ann = result.annotation
    extra = agreements.get((model, weights, layer, run, row["fbn"]), {"agreement": None, "p_agreement": None})
    stem = f"{model}_{weights}_{layer}_run-{run}"
    return {
        "id": f"{model}-{weights}-{layer}-{row['fbn']}", "model": model, "weights": weights, "layer": layer,
        "run": run, "fbn": row["fbn"], "filter": row["filter"], "pcc": float(row["pcc"]),
        "pcc_low": number(row.get("pcc_low")), "pcc_high": number(row.get("pcc_high")),
        "p_naive": float(row["p_naive"]), "p_edf": float(row["p_edf"]), "n_eff": float(row["n_eff"]),
        "p_shift": float(row["p_shift"]), "q_shift": float(row["q_shift"]), "p_phase": number(row.get("p_phase")),
        "significant": bool(row["significant"]), **extra,
        "fbn_terms": terms.get("fbns", {}).get(row["fbn"], []),
        "filter_terms": terms.get((model, weights, layer), {}).get(row["filter"], []),
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
    return {"table": readable_table(pd.read_csv(table), table_id="t-accuracy_regression", sortable=False),
            "img": data_uri(figure.read_bytes())}


def _gallery(result: ExperimentResult, cards: list[dict[str, object]], terms: Terms,
             store: PreparedStore) -> tuple[list[dict[str, object]], str]:
    """Every FBN's map (drawn once, shown by CSS class in the gallery and the cards: slices and a glass brain for
    volumes, the inflated fsLR surfaces for grayordinates), its peak (volumes) and its cards.

    Returns the gallery entries and the style sheet holding the images, each with its own aspect ratio (the
    number of axial slices, hence the width, depends on the map's extent).
    """
    from PIL import Image

    emb = result.embedding
    peaks = result.peaks.set_index("fbn") if result.peaks is not None else None
    entries, rules = [], []
    for k in range(emb.maps_.shape[0]):
        name = f"FBN-{k:02d}"
        png = store_picture(store, emb.maps_[k], name)
        width, height = Image.open(io.BytesIO(png)).size
        rules.append(f".m-{name}{{background-image:url({data_uri(png)});aspect-ratio:{width}/{height}}}")
        peak = None
        if peaks is not None and name in peaks.index:
            p = peaks.loc[name]
            peak = {"xyz": f"({p['x']:.0f}, {p['y']:.0f}, {p['z']:.0f})", "region": p["region"],
                    "network": p["atlas_network"], "distance": f"{p['distance_mm']:.0f}"}
        entries.append({"name": name, "peak": peak, "terms": terms.get("fbns", {}).get(name, [])[:4],
                        "cards": [{"id": c["id"], "label": f"{c['model']} {c['layer']}"} for c in cards if c["fbn"] == name]})
    return entries, "\n".join(rules)


def _pairs_index(cards: list[dict[str, object]]) -> str:
    """One row per card: the FBN links to its map in the gallery, the filter to its top frames in the card."""
    rows = pd.DataFrame([{"fbn": c["fbn"], "model": c["model"], "weights": c["weights"], "layer": c["layer"],
                          "filter": c["filter"], "pcc": c["pcc"], "p_shift": c["p_shift"], "significant": c["significant"]}
                         for c in cards])
    if rows.empty:
        return ""
    # the filter of each row links to its own card's frames (a filter can appear in several cards)
    links = {"fbn": {c["fbn"]: f"#fbn-{c['fbn']}" for c in cards}, "filter": [f"#frames-{c['id']}" for c in cards]}
    return readable_table(rows.drop(columns=["significant"]), flags=rows[["significant"]].rename(
        columns={"significant": "pcc"}), table_id="t-pairs", links=links)


def write_report(result: ExperimentResult, config: ExperimentConfig, *, store: PreparedStore) -> Path:
    """Render ``report/index.html`` (and ``report/cards.json``) inside the run directory; return the page's path.

    The page reads like a results section: a summary whose every number links to its table, the tables
    with explained headers, figures, the FBN gallery, one card per pair, and a methods and provenance
    section. It is self-contained: figures are data URIs, there is no script, font or style sheet from
    elsewhere, and every string that came from the user is escaped.
    """
    out = result.out_dir
    emb = result.embedding
    first_run = next(iter(result.fbn_activations))
    summary = result.summary
    tables = read_tables(out)
    found = findings(tables, alpha=config.pairing.alpha,
                     n_timepoints={run: a.shape[0] for run, a in result.fbn_activations.items()})

    matrices = []
    for (model, weights, layer, run), pairing in result.pairings.items():
        if run == first_run:
            title = f"{model} ({weights}) {layer}, run {run}"
            matrices.append({"title": title, "img": data_uri(figures.correlation_matrix(pairing.r, title))})
    frames = result.frames[first_run]
    cards, strips, traces = [], {}, {}
    agreements, terms = _agreements(result), _index_terms(result)
    for card in result.cards:
        shown = _card(card, result, agreements, terms)
        cards.append(shown)
        if shown["strip"] not in strips:
            strips[shown["strip"]] = data_uri(figures.frame_strip(frames.images[card.top_frames], card.heatmaps, height=90),
                                              "image/jpeg")
        traces[shown["id"]] = figures.trace_svg(card.fbn_trace, card.filter_trace)
    _io.write_text(out / "report" / "cards.json", json.dumps(cards, indent=1, default=json_default))
    gallery, map_css = _gallery(result, cards, terms, store)

    flags = summary[["mean_significant"]].rename(columns={"mean_significant": "mean_pcc"})
    pcc_runs, pcc_flags = _pivot(summary, "mean_pcc", "mean_significant")
    eq1_runs, eq1_flags = _pivot(summary, "mean_pcc_eq1", "mean_significant_eq1")
    eq1_table = eq1_vs_eq2(summary)
    recovery_links = {"spatial_fbn": {k: f"#fbn-FBN-{int(k):02d}" for k in range(emb.maps_.shape[0])},
                      "temporal_fbn": {k: f"#fbn-FBN-{int(k):02d}" for k in range(emb.maps_.shape[0])}}
    sections = [("summary", "Summary"), ("pairings", "Mean PCC per model, layer and run"),
                ("layers", "Layers, Eq.1 and Eq.2")]
    regression = _regression_context(out)
    if regression:
        sections.append(("accuracy", "ImageNet accuracy"))
    if result.recovery is not None:
        sections.append(("truth", "Planted truth"))
    sections.append(("fbns", "FBNs"))
    encoding = _encoding_context(result, store)
    if encoding:
        sections.append(("encoding", "Encoding models"))
    sweep = _sweep_context(result.comparison)
    if sweep:
        sections.append(("sweep", "Methods and numbers of FBNs"))
    sections += [("matrices", "PCC matrices"), ("pairs", "Pairs"), ("methods", "Methods and provenance")]
    prov = result.provenance
    return render_page(
        "report.html", out / "report" / "index.html",
        name=config.name,
        sections=sections,
        summary_sentences=[sentence_html(s) for s in found.sentences],
        caveats=found.caveats,
        tiles=[{**tile, "html": quote_html(tile["quote"]), "of": quote_html(tile["of"]) if tile.get("of") else None}
               for tile in found.tiles],
        pcc_chart=data_uri(figures.mean_pcc_chart(summary)),
        mean_table=readable_table(summary[PAIRING_KEYS + [c for c in MEAN_COLUMNS if c in summary]], flags=flags,
                                  table_id="t-summary"),
        tests_table=readable_table(summary[PAIRING_KEYS + [c for c in TEST_COLUMNS if c in summary]], table_id="t-tests"),
        models_x_runs=readable_table(pcc_runs, flags=pcc_flags, index=True, table_id="t-models-runs", default_kind="r"),
        models_x_runs_eq1=readable_table(eq1_runs, flags=eq1_flags, index=True, table_id="t-models-runs-eq1",
                                         default_kind="r"),
        eq1_chart=data_uri(figures.eq1_vs_eq2_chart(eq1_table)),
        eq1_vs_eq2=readable_table(eq1_table, table_id="t-eq1_vs_eq2"),
        layers=readable_table(layers_table(summary), table_id="t-layers"),
        regression=regression,
        recovery=(readable_table(result.recovery, table_id="t-recovery", links=recovery_links)
                  if result.recovery is not None else None),
        detection=(readable_table(result.detection, table_id="t-detection") if result.detection is not None else None),
        training=data_uri(figures.training_curve(emb.history_.to_frame())) if emb.history_ is not None else None,
        method=emb.method,
        peaks=(readable_table(result.peaks, table_id="t-peaks", links={"fbn": {g["name"]: f"#fbn-{g['name']}" for g in gallery}})
               if result.peaks is not None else None),
        gallery=gallery, map_css=map_css,
        sweep=sweep,
        encoding=encoding,
        matrices=matrices,
        cards=cards,
        pairs_index=_pairs_index(cards),
        strips=strips,
        traces=traces,
        pair_title=f"last listed layer of every model, run {first_run}",
        script=SCRIPT,
        script_hash=script_hash(SCRIPT),
        agreement=(readable_table(result.annotation.summary, table_id="t-agreement") if result.annotation is not None
                   and len(result.annotation.summary) else None),
        split=result.split,
        pairing=dataclasses.asdict(config.pairing),  # every [pairing] option, so a new one needs no change here
        n_lags=next(iter(result.pairings.values())).params["n_lags"],
        methods=methods_paragraphs(config, result),
        provenance=prov,
        timings={k: f"{v:.1f} s" for k, v in result.timings.items()},
        config_toml=config.to_toml(),
    )
