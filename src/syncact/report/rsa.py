"""The HTML report of a layer-to-brain mapping (the second seed): a summary quoted from its tables, the layers'
RDMs and their overlap, the searchlight maps, the image sets and the methods.

:func:`write_rsa_report` reads a result folder as ``syncact demo-rsa`` writes it: one folder per image set
(a :class:`~syncact.rsa.study.LayerSearchlight` saved with ``searchlight.json``, ``maps/``, ``rdms.npz``,
``tables/`` and, for natural images, ``images/``), ``synthesis/`` (the synthesised images and their
record) and ``tables/{overlap,mapping}.csv``. It computes no statistic: every number is read from those files.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from syncact.exceptions import MissingFileError
from syncact.report import figures
from syncact.report.html import SORT_TABLES, data_uri, render_page, script_hash
from syncact.report.quotes import Quote, quote, sentence_html
from syncact.report.tables import Column, readable_table
from syncact.rsa.rdm import LayerRDMs, square

GLOSSARY = {
    "set": Column("Image set", "natural photographs, their residual RDMs, or images synthesised for orthogonal layer RDMs."),
    "mean_abs_r": Column("Layer RDM overlap", "Mean |r| between the mapped layer RDMs (0: orthogonal).", "r"),
    "mean_dice": Column("Map overlap (Dice)", "Mean Dice overlap of the layers' significant searchlight maps.",
                        "number"),
    "region": Column("Planted region", "A region the simulation made encode one layer (ground truth)."),
    "layer": Column("Layer", "The CNN layer (planted for a region; mapped for a row of a set's table)."),
    "n_spheres": Column("Centres", "Searchlight centres inside the region.", "count"),
    "share_own_significant": Column("Own layer significant", "Share of the region's centres where its layer is "
                                    "significant (FWE).", "share"),
    "share_winner": Column("Own layer wins", "Share of the region's centres where its layer wins the winner-take-all.",
                           "share"),
    "top_winner": Column("Top winner", "The layer that wins most of the region's centres."),
    "precision": Column("Precision", "Share of the layer's significant centres that lie in the region.", "share"),
    "peak_similarity": Column("Peak similarity", "Highest RDM correlation of the layer over searchlights.", "r"),
    "mean_similarity": Column("Mean similarity", "Mean RDM correlation of the layer over searchlights.", "r"),
    "n_significant": Column("Significant centres", "Searchlight centres where the layer is significant (FWE).", "count"),
    "min_p_fwe": Column("Min p (FWE)", "Smallest family-wise p-value (bounded by 1 / (permutations + 1)).", "p"),
    "n_winner": Column("Centres won", "Centres where the layer wins the winner-take-all.", "count"),
}
"""What the columns of a layer-mapping result mean (some names mean something else in a Sync-ACT run)."""

TABLES = ("overlap", "mapping")
"""The result folder's tables the summary quotes (``tables/<name>.csv``)."""


def _sets(folder: Path, overlap: pd.DataFrame | None) -> list[str]:
    found = sorted(p.parent.name for p in folder.glob("*/searchlight.json"))
    if overlap is not None:  # the order the study ran them in
        order = [s for s in overlap["set"].astype(str) if s in found]
        found = order + [s for s in found if s not in order]
    return found


def _summary(tables: dict[str, pd.DataFrame], sets: list[str]) -> tuple[list[list[str | Quote]], list[dict[str, object]]]:
    """Sentences and headline tiles, every number quoted from ``tables/overlap.csv`` or ``tables/mapping.csv``."""
    sentences: list[list[str | Quote]] = []
    tiles: list[dict[str, object]] = []

    def per_set(table: str, column: str, aggregate: str = "value") -> list[str | Quote]:
        parts: list[str | Quote] = []
        for i, name in enumerate(sets):
            parts += [("" if i == 0 else ", ") + f"{name} ", quote(tables, table, column, aggregate, GLOSSARY, set=name)]
        return parts

    if "overlap" in tables:
        sentences.append(["Mean |r| between the mapped layer RDMs (0: orthogonal layers, 1: the same RDM): ",
                          *per_set("overlap", "mean_abs_r"), "."])
        sentences.append(["Mean Dice overlap of the layers' significant searchlight maps: ",
                          *per_set("overlap", "mean_dice"), "."])
        for name in sets:
            tiles.append({"label": f"Layer RDM overlap, {name}", "of": None, "note": "mean |r| between layers",
                          "quote": quote(tables, "overlap", "mean_abs_r", glossary=GLOSSARY, set=name)})
    if "mapping" in tables:
        sentences.append(["Share of each planted region's searchlight centres won by its planted layer (winner-take-all, "
                          "mean over regions): ", *per_set("mapping", "share_winner", "mean"), "."])
        sentences.append(["Share of each planted region's centres where its layer is significant (mean over regions): ",
                          *per_set("mapping", "share_own_significant", "mean"), "."])
        for name in sets:
            tiles.append({"label": f"Planted layer wins, {name}",
                          "quote": quote(tables, "mapping", "share_winner", "mean", GLOSSARY, set=name), "of": None,
                          "note": "share of region centres, mean over regions"})
    return sentences, tiles


def _set_context(folder: Path, name: str) -> dict[str, object]:
    """One image set's RDMs, layer maps and tables, as the page shows them."""
    meta = json.loads((folder / "searchlight.json").read_text())
    rdms = np.load(folder / "rdms.npz")
    layers = [k.split("/", 1)[1] for k in rdms.files if k.startswith("mapped/")]
    mapped = LayerRDMs(layers, np.stack([rdms[f"mapped/{layer}"] for layer in layers]), "correlation")
    residual = bool(meta.get("residual"))
    similarity = figures.square_matrix(mapped.similarity(), layers, ("residual " if residual else "") + "RDM similarity")
    panels = figures.rdm_panels({layer: square(rdms[f"mapped/{layer}"]) for layer in layers},
                                f"{name}: {'residual ' if residual else ''}RDMs (ranks)")
    first = nib.load(folder / "maps" / f"{layers[0]}_similarity.nii.gz")
    maps = {layer: np.asarray(nib.load(folder / "maps" / f"{layer}_similarity.nii.gz").dataobj, dtype=np.float64)
            for layer in layers}
    mask = np.logical_or.reduce([m != 0 for m in maps.values()])
    alpha = float(meta.get("alpha", 0.05))
    views = []
    for layer in layers:
        logp = np.asarray(nib.load(folder / "maps" / f"{layer}_logp_fwe.nii.gz").dataobj, dtype=np.float64)
        shown = np.where(logp > -np.log10(alpha), maps[layer], 0.0)[mask]
        if not shown.any():
            views.append({"layer": layer, "img": None})
            continue
        views.append({"layer": layer, "img": data_uri(figures.brain_views(shown, mask, first.affine,
                                                                           f"{name} {layer}", threshold=0.05))})
    winners = np.asarray(nib.load(folder / "maps" / "winner_take_all.nii.gz").dataobj).astype(int)
    tables = {p.stem: pd.read_csv(p, index_col=None if p.stem == "layers" else 0)
              for p in sorted((folder / "tables").glob("*.csv"))}
    for stem, table in tables.items():
        if stem != "layers":
            table.index.name = "layer"
    return {
        "name": name, "residual": residual, "n_images": len(meta.get("images", [])),
        "similarity": data_uri(similarity), "rdms": data_uri(panels), "views": views,
        "winners": data_uri(figures.label_views(winners, mask, first.affine, layers,
                                                f"{name}: layer that wins each searchlight (FWE alpha {alpha:g})")),
        "layers": (readable_table(tables["layers"], table_id=f"t-{name}-layers", glossary=GLOSSARY)
                   if "layers" in tables else None),
        "dice": (readable_table(tables["dice"], index=True, table_id=f"t-{name}-dice", sortable=False, default_kind="r")
                 if "dice" in tables else None),
        "meta": meta,
    }


def write_rsa_report(folder: str | Path, *, title: str = "layer-to-brain mapping") -> Path:
    """Render ``report/index.html`` in a layer-mapping result folder; return the page's path.

    Parameters
    ----------
    folder : str or Path
        As ``syncact demo-rsa`` writes it (see the module docstring): at least one image-set folder with
        ``searchlight.json``.
    title : str

    Returns
    -------
    Path
    """
    from syncact import __version__
    from syncact.stimulus import load_images

    folder = Path(folder)
    sets_found = list(folder.glob("*/searchlight.json"))
    if not sets_found:
        raise MissingFileError(f"{str(folder)!r} holds no searchlight result (*/searchlight.json); run `syncact demo-rsa` "
                               "or save a LayerSearchlight into a subfolder first.")
    tables = {name: pd.read_csv(folder / "tables" / f"{name}.csv") for name in TABLES
              if (folder / "tables" / f"{name}.csv").is_file()}
    sets = _sets(folder, tables.get("overlap"))
    sentences, tiles = _summary(tables, sets)
    contexts = [_set_context(folder / name, name) for name in sets]
    galleries = []
    for label, images in (("natural images", folder / "natural" / "images"), ("synthesised images",
                                                                               folder / "synthesis" / "images")):
        if images.is_dir() and any(images.glob("*.png")):
            pixels, _ = load_images(images, size=64)
            galleries.append({"label": label, "img": data_uri(figures.image_grid(pixels), "image/jpeg")})
    synthesis = folder / "synthesis" / "synthesis.json"
    synthesis_meta = json.loads(synthesis.read_text()) if synthesis.is_file() else None
    history = folder / "synthesis" / "history.csv"
    sections = [("summary", "Summary"), ("tables", "Mapping and overlap")] + [(f"set-{c['name']}", f"Image set: {c['name']}")
                                                                             for c in contexts]
    if galleries:
        sections.append(("images", "Images"))
    sections.append(("methods", "Methods"))
    return render_page(
        "rsa.html", folder / "report" / "index.html",
        title=title, version=__version__, sections=sections,
        summary_sentences=[sentence_html(s) for s in sentences],
        tiles=[{**t, "html": sentence_html([t["quote"]])} for t in tiles],
        overlap=(readable_table(tables["overlap"], table_id="t-overlap", glossary=_with_layers(tables["overlap"]))
                 if "overlap" in tables else None),
        mapping=readable_table(tables["mapping"], table_id="t-mapping", glossary=GLOSSARY) if "mapping" in tables else None,
        sets=contexts, galleries=galleries, synthesis=synthesis_meta,
        history=(data_uri(figures.synthesis_curve(pd.read_csv(history))) if history.is_file() else None),
        methods=_methods(contexts, synthesis_meta),
        script=SORT_TABLES, script_hash=script_hash(SORT_TABLES),
    )


def _with_layers(overlap: pd.DataFrame) -> dict[str, Column]:
    """The glossary plus one entry per ``n_significant_<layer>`` column of the overlap table."""
    layers = {c: Column(f"Sig. centres, {c.removeprefix('n_significant_')}", "Searchlight centres where the layer is "
                        "significant (FWE).", "count") for c in overlap if c.startswith("n_significant_")}
    return {**GLOSSARY, **layers}


def _methods(contexts: list[dict[str, object]], synthesis: dict[str, object] | None) -> list[str]:
    """Methods paragraphs from the sets' and the synthesis' records."""
    if not contexts:
        return []
    meta = contexts[0]["meta"]
    sim = meta.get("simulation") or {}
    text = [f"Image sets ({', '.join(str(c['name']) for c in contexts)}; {contexts[0]['n_images']} images each) went "
            f"through {meta.get('model')} at {meta.get('input_size')} x {meta.get('input_size')} pixels; each layer's RDM "
            f"is the {meta.get('metric', 'correlation')} distance between the images' activation patterns. Residual RDMs "
            "are each layer's RDM regressed on the other layers' RDMs. Searchlight RSA compared each layer's RDM with the "
            f"RDM of the fMRI patterns in spheres of {meta.get('radius_mm')} mm ({meta.get('method', 'spearman')} "
            "correlation), with a family-wise error p-value from the "
            f"maximum statistic over {meta.get('n_perm')} permutations of the images (alpha {meta.get('alpha')})."]
    if sim:
        text.append(f"The fMRI experiment was simulated: {sim.get('n_runs')} runs of {sim.get('n_scans')} scans "
                    f"(TR {sim.get('t_r')} s), each image shown {sim.get('repeats')} times for {sim.get('duration')} s "
                    f"(ISI {sim.get('isi')} s), planted response {sim.get('amplitude')} noise standard deviations; image "
                    "patterns are least-squares-all t maps of a first-level GLM (nilearn).")
    if synthesis:
        text.append(f"Synthesised images ({synthesis.get('n_images')}, {synthesis.get('size')} pixels) were optimised for "
                    f"{synthesis.get('steps')} steps (learning rate {synthesis.get('lr')}, jitter {synthesis.get('jitter')} "
                    f"pixels, smoothness weight {synthesis.get('smoothness')}) so that their layer RDMs are as dissimilar "
                    f"as possible across {', '.join(synthesis.get('layers', []))}; mean |r| between layers went from "
                    f"{synthesis.get('mean_abs_r_reference', float('nan')):.3f} (reference photographs) to "
                    f"{synthesis.get('mean_abs_r_synthesized', float('nan')):.3f}.")
    return text
