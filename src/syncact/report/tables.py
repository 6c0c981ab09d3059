"""Readable HTML tables: human headers explained where they appear, numbers rounded to what they mean.

The run's CSV/Parquet tables keep their column names and full precision; a page shows them through
:func:`readable_table`, which looks every column up in :data:`COLUMNS` (the one glossary of the
report), rounds by the column's kind, marks significance the same way in every table and wraps the
table in a horizontal scroll container so that no table runs off the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Column:
    """How a page shows one column.

    Attributes
    ----------
    header : str
        Human header.
    help : str
        One line on what the column holds (shown on hover and under the table).
    kind : str
        How values are rounded: ``"r"`` (correlations, 3 decimals), ``"p"`` (p-values, 2 significant
        digits, ``< 0.001``), ``"share"`` (fractions as percent), ``"count"``, ``"number"`` (3 significant
        digits), ``"seconds"``, ``"text"``.
    """

    header: str
    help: str
    kind: str = "text"


_R, _P, _SHARE, _COUNT, _NUM = "r", "p", "share", "count", "number"
COLUMNS: dict[str, Column] = {
    # keys of a pairing
    "model": Column("Model", "CNN (torchvision/timm/PyPI name)."),
    "weights": Column("Weights", "'imagenet': pretrained; 'random': untrained control with the same architecture."),
    "layer": Column("Layer", "Layer whose filters were paired (each filter's activation: spatial max per frame)."),
    "run": Column("Run", "Movie run; FBN activations are the test subjects' mean on it."),
    "top1_accuracy": Column("ImageNet top-1 (%)", "The model's published ImageNet accuracy.", "accuracy"),
    # pairing summary
    "mean_pcc": Column("Mean PCC", "Mean Pearson correlation of the Eq.2 pairs (each FBN with its best filter).", _R),
    "mean_pcc_low": Column("CI low", "Lower bound of the mean PCC's jackknife interval over test subjects.", _R),
    "mean_pcc_high": Column("CI high", "Upper bound of the mean PCC's jackknife interval over test subjects.", _R),
    "mean_p_shift": Column("p (mean)", "Circular-shift max-statistic test of the mean PCC.", _P),
    "mean_significant": Column("Significant", "Mean PCC significant by the circular-shift test."),
    "mean_pcc_eq1": Column("Mean PCC, Eq.1", "Mean PCC of each filter with its best FBN.", _R),
    "mean_p_shift_eq1": Column("p (mean, Eq.1)", "Circular-shift test of the Eq.1 mean PCC.", _P),
    "n_fbns": Column("FBNs", "FBNs paired (Eq.2 pairs).", _COUNT),
    "n_filters": Column("Filters", "Filters paired (constant filters left out).", _COUNT),
    "n_significant_naive": Column("Sig. (naive)", "Pairs significant by the parametric p of the chosen pair alone "
                                  "(ignores the choice among filters and autocorrelation: too liberal).", _COUNT),
    "n_significant_edf": Column("Sig. (edf)", "Pairs significant with autocorrelation-corrected degrees of freedom "
                                "(not corrected for picking the best filter).", _COUNT),
    "n_significant_shift": Column("Sig. (shift)", "Pairs significant by the circular-shift max-statistic test "
                                  "(the report's test).", _COUNT),
    "n_significant_fdr": Column("Sig. (FDR)", "Pairs significant after FDR adjustment of the shift test across FBNs.",
                                _COUNT),
    "n_significant_phase": Column("Sig. (phase)", "Pairs significant by the phase-randomised max-statistic test.",
                                  _COUNT),
    "n_significant_eq1": Column("Sig. filters (Eq.1)", "Filters whose best FBN pairs significantly.", _COUNT),
    "n_mutual": Column("Mutual", "Pairs that are best in both directions (the FBN's filter has that FBN as its best).",
                       _COUNT),
    "ratio_not_significant": Column("Ratio", "Non-significant pairs / pairs (the paper's Ratio)."),
    "control_movie_run": Column("Control movie", "Run whose movie the control pairs the FBNs with (nothing links them)."),
    "control_mean_pcc": Column("Control mean PCC", "Mean PCC of the FBNs with the filters of another run's movie.", _R),
    "control_n_significant": Column("Control sig.", "Significant pairs in the mismatched-movie control: false "
                                    "positives of the whole pipeline.", _COUNT),
    # layers / Eq.1 vs Eq.2
    "ratio": Column("Ratio", "Non-significant pairs / pairs, summed over runs (the paper's Table 7)."),
    "ratio_value": Column("Ratio (share)", "The Ratio as a share.", _SHARE),
    "mean_pcc_eq2": Column("Mean PCC, Eq.2", "Each FBN with its best filter, mean over runs.", _R),
    "significant_runs_eq2": Column("Sig. runs, Eq.2", "Runs whose Eq.2 mean PCC is significant."),
    "significant_runs_eq1": Column("Sig. runs, Eq.1", "Runs whose Eq.1 mean PCC is significant."),
    "share_significant_eq2": Column("Sig. pairs, Eq.2", "Share of FBN pairs significant (shift test).", _SHARE),
    "share_significant_eq1": Column("Sig. pairs, Eq.1", "Share of filter pairs significant (shift test).", _SHARE),
    "mutual": Column("Mutual", "Pairs best in both directions, summed over runs, of the FBN pairs."),
    # recovery / detection
    "network": Column("Planted network", "A network the simulation planted (ground truth)."),
    "kind": Column("Kind", "'stimulus': driven by a movie feature; 'spontaneous': independent of the movie."),
    "driver": Column("Driver", "The movie feature that drives a stimulus network."),
    "spatial_fbn": Column("Best FBN (map)", "FBN whose map correlates best with the planted map."),
    "spatial_r": Column("Map r", "Correlation of the planted map with its best FBN map.", _R),
    "span_r": Column("Span r", "Correlation of the planted map with its projection on the span of all FBN maps "
                     "(what any rotation of the FBNs could reach).", _R),
    "temporal_fbn": Column("Best FBN (time)", "FBN whose test-mean activation tracks the planted BOLD best."),
    "fbn_role": Column("FBNs", "'driven': FBNs that track a planted driven network (r >= 0.5); 'unrelated': FBNs "
                       "that track none (r < 0.3); 'best_of_planted': the best FBN of each driven network."),
    "share_naive": Column("Sig. (naive)", "Share called significant by the naive test.", _SHARE),
    "share_edf": Column("Sig. (edf)", "Share called significant by the edf test.", _SHARE),
    "share_shift": Column("Sig. (shift)", "Share called significant by the circular-shift test.", _SHARE),
    "share_fdr_shift": Column("Sig. (FDR)", "Share called significant after FDR.", _SHARE),
    # agreement
    "mean_agreement": Column("Agreement", "Mean similarity of the two sides' descriptions over the pairs.", _R),
    "mean_agreement_null": Column("Agreement (shuffled)", "The same over shuffled pairs.", _R),
    "p_agreement": Column("p", "Permutation p-value of the agreement against shuffled pairs.", _P),
    "n_pairs": Column("Pairs", "Pairs described.", _COUNT),
    # accuracy regression
    "n_models": Column("Models", "ImageNet models in the regression.", _COUNT),
    "slope": Column("Slope", "Change of mean PCC per accuracy point.", _NUM),
    "intercept": Column("Intercept", "Mean PCC at 0 % accuracy (extrapolated).", _NUM),
    "r2": Column("R²", "Variance of mean PCC explained by accuracy.", _R),
    "p_value": Column("p", "p-value of the slope.", _P),
    "slope_low": Column("Slope CI low", "Bootstrap interval of the slope.", _NUM),
    "slope_high": Column("Slope CI high", "Bootstrap interval of the slope.", _NUM),
    "r2_low": Column("R² CI low", "Bootstrap interval of R².", _R),
    "r2_high": Column("R² CI high", "Bootstrap interval of R².", _R),
    # sweep
    "method": Column("Method", "How the FBNs were found."),
    "n_networks": Column("K", "Number of FBNs.", _COUNT),
    "n_significant": Column("Sig. pairs", "Pairs significant (shift test).", _COUNT),
    "mae": Column("MAE", "Mean absolute error of normalised time series (lower is better).", _NUM),
    "mse": Column("MSE", "Mean squared error (lower is better).", _NUM),
    "rmse": Column("RMSE", "Root mean squared error (lower is better).", _NUM),
    "dtw": Column("DTW", "Dynamic time warping distance (lower is better).", _NUM),
    "pcc": Column("PCC", "Pearson correlation (higher is better).", _R),
    "temporal_r": Column("Time r", "Correlation of the planted BOLD with the best FBN's activation, mean over runs.", _R),
    "filter": Column("Filter", "The paired filter (its index in the layer)."),
    "p_shift": Column("p (shift)", "Circular-shift max-statistic p-value of the pair.", _P),
    "fit_seconds": Column("Fit (s)", "Wall time of the fit.", "seconds"),
    "identify_seconds": Column("Identify (s)", "Wall time of the identification step.", "seconds"),
    "epochs": Column("Epochs", "Training epochs run.", _COUNT),
    "validation_loss": Column("Validation loss", "Best validation MSE.", _NUM),
    "reference": Column("Reference", "Fit the maps are matched to."),
    "n_matched": Column("Matched", "Maps matched (Hungarian).", _COUNT),
    "mean_spatial_r": Column("Mean map r", "Mean correlation of matched maps.", _R),
    "min_spatial_r": Column("Min map r", "Lowest correlation of matched maps.", _R),
    # encoding
    "band": Column("Band", "A layer's features (delayed copies) in the banded ridge."),
    "n_voxels": Column("Voxels", "Voxels scored.", _COUNT),
    "mean_r": Column("Mean r", "Held-out prediction correlation, mean over voxels (leave one run out).", _R),
    "share_significant": Column("Predicted", "Share of voxels whose held-out r passes their own circular-shift null "
                                "(p <= 0.05, uncorrected).", _SHARE),
    "false_positive_rate": Column("Null FPR", "The same share when each run's features meet another run's movie "
                                  "(nothing links them: about 5 % if the test holds its level).", _SHARE),
    "share_won": Column("Won", "Share of the predicted voxels that this band explains most of (R² split).", _SHARE),
    "median_ceiling": Column("Median ceiling", "Median noise ceiling of the voxels (ISC of the test subjects).", _R),
    "median_ceiled_r": Column("Median r / ceiling", "Median over the voxels of r over their ceiling, clipped to [0, 1] "
                              "(per band: of the predicted voxels).", _R),
    "median_r": Column("Median r", "Held-out prediction correlation, median over the network's voxels.", _R),
    "best_band": Column("Best band", "The band that wins most of the network's predicted voxels."),
    "ceiled_r_low": Column("Low (95 %)", "Jackknife interval over test subjects of encoding r / ceiling: low end.", _R),
    "ceiled_r_high": Column("High (95 %)", "Jackknife interval over test subjects of encoding r / ceiling: high end.",
                            _R),
    "encoding_r": Column("Encoding r", "Held-out prediction correlation of the FBN's activation.", _R),
    "ceiling": Column("Ceiling", "Noise ceiling of the FBN's test-mean activation (from ISC).", _R),
    "ceiled_r": Column("Encoding / ceiling", "Encoding r over the ceiling, clipped to [0, 1].", _R),
    "encoding_layer": Column("Best layer (encoding)", "The band that explains most of the FBN (R² split)."),
    "paired_layer": Column("Best layer (pairing)", "The layer whose Eq.2 pair has the highest PCC."),
    "same_layer": Column("Same layer", "Both methods name the same layer."),
    "paired_pcc": Column("Eq.2 PCC", "The FBN's best Eq.2 PCC over this model's layers (mean over runs).", _R),
    "paired_pcc_ceiled": Column("Eq.2 PCC / ceiling", "That PCC over the FBN's ceiling, clipped to [0, 1].", _R),
    "planted_layer": Column("Planted layer", "The layer whose filter drives the planted network (ground truth)."),
    "share_won_planted": Column("Won by planted layer", "Share of the network's voxels the planted layer wins.",
                                _SHARE),
    # FBN peaks
    "fbn": Column("FBN", "Functional brain network."),
    "x": Column("x (mm)", "MNI coordinate of the map's peak.", _COUNT),
    "y": Column("y (mm)", "MNI coordinate of the map's peak.", _COUNT),
    "z": Column("z (mm)", "MNI coordinate of the map's peak.", _COUNT),
    "region": Column("Nearest region", "Region of the nearest ROI centre of the coordinate atlas."),
    "atlas_network": Column("Its network", "Network of that ROI in the atlas."),
    "distance_mm": Column("Distance (mm)", "From the peak to that ROI centre.", "accuracy"),
}
"""The report's glossary: every column a page shows, by its name in the run's tables."""


def column(name: str, default_kind: str = "number", glossary: dict[str, Column] | None = None) -> Column:
    """The glossary entry of a column (``glossary`` first, then :data:`COLUMNS`); others (e.g. ``Run #1``,
    ``temporal_r_run-2``) are derived, numbers in them rounded by ``default_kind``."""
    if glossary and name in glossary:
        return glossary[name]
    if name in COLUMNS:
        return COLUMNS[name]
    if name.startswith("share_won_"):
        return Column(f"Won by {name.removeprefix('share_won_')}", "Share of the voxels this band explains most of.",
                      _SHARE)
    if name.startswith("temporal_r_run-"):
        return Column(f"Time r, run {name.rsplit('-', 1)[1]}", "Correlation of the planted BOLD with the best FBN's "
                      "test-mean activation on that run.", _R)
    return Column(str(name).replace("_", " "), "", default_kind)


def format_value(value: object, kind: str) -> str:
    """A value rounded to what it means (see :class:`Column`); missing values are an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if kind == "text":  # a number in a text column (e.g. a run label read as an integer)
        return str(value) if isinstance(value, (int, np.integer)) else f"{float(value):.3g}"
    v = float(value)
    if kind == _R:
        return f"{v:.3f}"
    if kind == _P:
        return "< 0.001" if v < 0.001 else f"{v:.2g}" if v < 0.01 else f"{v:.3f}".rstrip("0").rstrip(".")
    if kind == _SHARE:
        return f"{100 * v:.0f} %"
    if kind == _COUNT:
        return f"{v:.0f}"
    if kind in ("accuracy", "seconds"):
        return f"{v:.1f}"
    return f"{v:.3g}"


def readable_table(df: pd.DataFrame, *, flags: pd.DataFrame | None = None, table_id: str | None = None,
                   caption: str | None = None, index: bool = False,
                   links: dict[str, Mapping[object, str] | Sequence[str]] | None = None,
                   sortable: bool = True, default_kind: str = "number", glossary: dict[str, Column] | None = None) -> str:
    """A DataFrame as an escaped, readable HTML table in a scroll container.

    Parameters
    ----------
    df : DataFrame
        The table as written to the run directory (full precision, raw column names).
    flags : DataFrame or None
        Significance of some cells: same index as ``df``, columns a subset of its columns, True
        (significant: bold) / False (not significant: grey, marked "n.s.") / NaN (no mark).
    table_id : str or None
        Anchor of the table.
    caption : str or None
    index : bool, default=False
        Show the index as the first column(s).
    links : dict of column to (mapping of value to href, or sequence of one href per row) or None
        Cells of these columns link to the given anchors: by the cell's value (an FBN to its map), or row by row
        (a filter that appears in several rows to each row's own card).
    sortable : bool, default=True
        Headers sort the rows when clicked (by the page's script; the raw value is in ``data-v``).
    default_kind : str, default="number"
        How numbers of columns outside :data:`COLUMNS` are rounded (``"r"`` for a table of correlations).
    glossary : dict of str to Column or None
        Entries that take precedence over :data:`COLUMNS` (a column name that means something else here).

    Returns
    -------
    str
        HTML: ``<div class="scroll"><table>...</table></div>`` and, when some header has an explanation,
        a ``<details>`` list of them under the table.
    """
    shown = df.reset_index() if index else df
    links = links or {}
    esc = html.escape
    attrs = f' id="{esc(table_id)}"' if table_id else ""
    classes = "tbl sortable" if sortable else "tbl"
    out = [f'<div class="scroll"><table class="{classes}"{attrs}>']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>")
    explained = []
    for name in shown.columns:
        col = column(str(name), default_kind, glossary)
        tip = f' title="{esc(col.help)}"' if col.help else ""
        out.append(f'<th scope="col"{tip}>{esc(col.header)}</th>')
        if col.help:
            explained.append(f"<dt>{esc(col.header)}</dt><dd>{esc(col.help)}</dd>")
    out.append("</tr></thead><tbody>")
    flag_rows = flags.reindex(df.index) if flags is not None else None
    for i, (_, row) in enumerate(shown.iterrows()):
        out.append("<tr>")
        for name in shown.columns:
            col = column(str(name), default_kind, glossary)
            value = row[name]
            text = esc(format_value(value, col.kind))
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            raw = f' data-v="{float(value)!r}"' if numeric and not pd.isna(value) else ""
            cls = ' class="num"' if numeric else ""
            if flag_rows is not None and name in flag_rows.columns:
                flag = flag_rows.iloc[i][name]
                if not pd.isna(flag):
                    text = f'<b class="sig">{text}</b>' if bool(flag) else f'<span class="nsig">{text} n.s.</span>'
            target = links.get(name)
            href = target.get(value) if isinstance(target, Mapping) else target[i] if target is not None else None
            if href is not None:
                text = f'<a href="{esc(href)}">{text}</a>'
            out.append(f"<td{cls}{raw}>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    if explained:
        out.append('<details class="cols"><summary>Columns</summary><dl>' + "".join(dict.fromkeys(explained))
                   + "</dl></details>")
    return "".join(out)
