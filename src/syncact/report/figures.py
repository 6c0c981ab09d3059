"""Figures of the report, each returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - the report never needs a screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _rgb(values: np.ndarray, background: np.ndarray, threshold: float) -> np.ndarray:
    """A signed map in [-1, 1] over a grey silhouette, as uint8 RGB: nilearn's cold_hot from 0.1 to 0.9, yellow at +1
    and cyan at -1 (its ends are white, which would read as "no data" next to the silhouette; the surface views
    use the same range)."""
    from nilearn.plotting.cm import cold_hot

    rgb = np.where(background[..., None], 0.82, 1.0) * np.ones((*values.shape, 3))
    shown = np.abs(values) >= threshold
    rgb[shown] = np.asarray(cold_hot(0.5 + 0.4 * np.clip(values[shown], -1, 1)))[:, :3]
    return (rgb * 255).astype(np.uint8)


def brain_views(map_values: np.ndarray, mask: np.ndarray, affine: np.ndarray, title: str, *, n_slices: int = 5,
                threshold: float = 0.35, zoom: int = 3, scale: float | None = None) -> bytes:
    """A map's glass brain (signed maximum-intensity projections: sagittal, coronal, axial) and axial slices.

    Drawn with numpy and PIL (no matplotlib figure: ~100x faster, which matters for 64 FBNs x several
    models). Values are scaled to the map's largest absolute value; voxels below ``threshold`` of it are not
    coloured. The slices are spread over the axial extent of the supra-threshold voxels and labelled with
    their MNI z; images are in neurological orientation (left on the left) for an axis-aligned affine. A
    colour bar on the right gives the scale (value / largest absolute value; grey: below ``threshold``).
    ``scale`` replaces the largest absolute value (e.g. a map's peak over more than these voxels).
    """
    from PIL import Image, ImageDraw

    volume = np.zeros(mask.shape, dtype=np.float32)
    volume[mask] = np.clip(map_values / (scale or np.abs(map_values).max() or 1.0), -1, 1)
    if affine[0, 0] < 0:
        volume, mask = volume[::-1], mask[::-1]

    def projection(axis: int) -> np.ndarray:
        idx = np.abs(volume).argmax(axis=axis)
        return np.take_along_axis(volume, np.expand_dims(idx, axis), axis).squeeze(axis)

    panels = [(_rgb(projection(0).T[::-1], mask.any(axis=0).T[::-1], threshold), "sagittal"),
              (_rgb(projection(1).T[::-1], mask.any(axis=1).T[::-1], threshold), "coronal"),
              (_rgb(projection(2).T[::-1], mask.any(axis=2).T[::-1], threshold), "axial")]
    strong = np.flatnonzero((np.abs(volume) >= threshold).any(axis=(0, 1)))
    inside = np.flatnonzero(mask.any(axis=(0, 1)))
    low, high = (strong.min(), strong.max()) if strong.size else (inside.min(), inside.max())
    for z in np.unique(np.linspace(low, high, n_slices).round().astype(int)):
        panels.append((_rgb(volume[:, :, z].T[::-1], mask[:, :, z].T[::-1], threshold),
                       f"z={affine[2, 2] * z + affine[2, 3]:.0f}"))
    height = max(p.shape[0] for p, _ in panels) * zoom
    bar_width = 44  # the colour bar and its labels
    canvas = Image.new("RGB", (sum(p.shape[1] * zoom + 4 for p, _ in panels) + bar_width, height + 14), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for pixels, label in panels:
        tile = Image.fromarray(pixels).resize((pixels.shape[1] * zoom, pixels.shape[0] * zoom), Image.NEAREST)
        canvas.paste(tile, (x, 14 + height - tile.height))
        draw.text((x + 2, 1), label, fill=(60, 60, 60))
        x += tile.width + 4
    # colour bar: map value / peak |value| from +1 (top) to -1 (bottom); the grey band is below threshold
    levels = np.linspace(1, -1, height)[:, None] * np.ones((1, 10))
    bar = _rgb(levels, np.ones(levels.shape, dtype=bool), threshold)
    canvas.paste(Image.fromarray(bar), (x + 2, 14))
    for value, text in ((1, "+1"), (threshold, f"{threshold:+.2g}"), (-threshold, f"{-threshold:+.2g}"), (-1, "-1")):
        y = 14 + round((1 - value) / 2 * (height - 1))
        draw.text((x + 14, min(max(y - 5, 14), height + 3)), text, fill=(60, 60, 60))
    draw.text((max(canvas.width - 6 * len(title) - 2, 0), 1), title, fill=(0, 0, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def correlation_matrix(r: np.ndarray, title: str) -> bytes:
    """FBN x filter PCC matrix, filters sorted by their best PCC (descending)."""
    order = np.argsort(-r.max(axis=0))
    fig, ax = plt.subplots(figsize=(8, 2.8))
    lim = float(np.abs(r).max())
    im = ax.imshow(r[:, order], aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xlabel("filters (sorted by best PCC)")
    ax.set_ylabel("FBN")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="PCC")
    return _png(fig)


def training_curve(history: pd.DataFrame) -> bytes:
    """Train and validation reconstruction loss per epoch."""
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.plot(history["epoch"], history["train_loss"], label="train")
    if history["validation_loss"].notna().any():
        ax.plot(history["epoch"], history["validation_loss"], label="validation")
        best = history.loc[history["best"], "epoch"]
        if len(best):
            ax.axvline(int(best.iloc[0]), color="0.5", ls=":", label="kept")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    return _png(fig)


def frame_strip(images: np.ndarray, overlays: np.ndarray | None = None, *, height: int | None = None) -> bytes:
    """Frames side by side (uint8 RGB, shape (n, H, W, 3)) as JPEG bytes (photographs: ~7x smaller than PNG).

    ``overlays`` (n, H, W): a filter's feature map on each frame, drawn as a heat map over the frame
    (scaled to the largest value over all frames, as Network Dissection shows units). ``height``
    downsizes the strip.
    """
    from PIL import Image

    frames = np.asarray(images, dtype=np.float32)
    if overlays is not None:
        heat = np.clip(np.asarray(overlays, dtype=np.float32), 0, None)
        heat /= max(float(heat.max()), 1e-12)
        colour = plt.get_cmap("inferno")(heat)[..., :3] * 255  # (n, H, W, 3)
        alpha = 0.25 + 0.5 * heat[..., None]
        frames = (1 - alpha) * frames + alpha * colour
    strip = np.concatenate(list(np.clip(frames, 0, 255).astype(np.uint8)), axis=1)
    image = Image.fromarray(strip)
    if height is not None and image.height > height:
        image = image.resize((round(image.width * height / image.height), height))
    strip = np.asarray(image)
    buf = io.BytesIO()
    Image.fromarray(strip).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def ablation_bars(ablation: pd.DataFrame) -> bytes:
    """The ablation metrics (MAE, MSE, RMSE, DTW, PCC) per method, one panel per metric, bars per K."""
    metrics = ("mae", "mse", "rmse", "dtw", "pcc")
    ks = sorted(ablation["n_networks"].unique())
    methods = list(dict.fromkeys(ablation["method"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.4 * len(metrics), 2.6))
    width = 0.8 / len(ks)
    for ax, metric in zip(axes, metrics, strict=True):
        for j, k in enumerate(ks):
            sub = ablation[ablation["n_networks"] == k].set_index("method").reindex(methods)
            ax.bar(np.arange(len(methods)) + j * width, sub[metric], width, label=f"K={k}")
        ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods, rotation=45, ha="right", fontsize=7)
        ax.set_title(metric.upper() + (" (higher is better)" if metric == "pcc" else ""), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def k_sweep_plot(k_sweep: pd.DataFrame) -> bytes:
    """Mean Eq.2 PCC against the number of networks, one line per method (mean over models, layers, runs)."""
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    means = k_sweep.groupby(["method", "n_networks"], sort=False)["mean_pcc"].mean().reset_index()
    for method, sub in means.groupby("method", sort=False):
        ax.plot(sub["n_networks"], sub["mean_pcc"], marker="o", label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of FBNs (K)")
    ax.set_ylabel("mean PCC (Eq.2)")
    ax.legend(fontsize=7)
    return _png(fig)


def accuracy_regression_plot(points: pd.DataFrame, slope: float, intercept: float, r2: float, p_value: float) -> bytes:
    """Mean PCC against ImageNet top-1 accuracy, one point per model, with the fitted line (the paper's Fig. 7)."""
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ax.scatter(points["top1_accuracy"], points["mean_pcc"], s=18)
    for _, row in points.iterrows():
        ax.annotate(str(row["model"]), (row["top1_accuracy"], row["mean_pcc"]), fontsize=6, xytext=(3, 2),
                    textcoords="offset points")
    xs = np.linspace(points["top1_accuracy"].min(), points["top1_accuracy"].max(), 50)
    ax.plot(xs, intercept + slope * xs, color="0.3", lw=1)
    ax.set_xlabel("ImageNet top-1 accuracy (%)")
    ax.set_ylabel("mean PCC (Eq.2)")
    ax.set_title(f"R² = {r2:.2f}, p = {p_value:.2g}", fontsize=9)
    return _png(fig)


def trace_svg(fbn: np.ndarray, filt: np.ndarray, *, width: int = 360, height: int = 90) -> str:
    """Two z-scored time series as an inline SVG (FBN blue, filter orange): no image file, no script."""
    def points(x: np.ndarray) -> str:
        x = np.asarray(x, dtype=np.float64)
        z = (x - x.mean()) / (x.std() or 1.0)
        ys = height / 2 - np.clip(z, -3, 3) * (height / 6.5)
        xs = np.linspace(0, width, len(z))
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))

    return (f'<svg class="trace" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="FBN and filter activations"><polyline fill="none" stroke="#1f77b4" stroke-width="1" '
            f'points="{points(fbn)}"/><polyline fill="none" stroke="#ff7f0e" stroke-width="1" '
            f'points="{points(filt)}"/></svg>')


def _pairing_labels(table: pd.DataFrame) -> list[str]:
    return (table["model"] + " (" + table["weights"] + ") " + table["layer"]).tolist()


def _pairings_png(fig: plt.Figure, ax: plt.Axes, labels: list[str], xlabel: str) -> bytes:
    """Finish a chart with one row per model and layer (first on top) and PCC on x."""
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(axis="x", color="0.9")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def mean_pcc_chart(summary: pd.DataFrame) -> bytes:
    """Mean Eq.2 PCC per model and layer (rows) and run (markers), with intervals over test subjects.

    The paper's Tables 5-7 as one chart: filled markers are significant means, hollow ones are not; grey
    crosses are the mismatched-movie control's mean PCC.
    """
    labels = list(dict.fromkeys(_pairing_labels(summary)))
    runs = list(dict.fromkeys(summary["run"].astype(str)))
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.42 * len(labels) * max(1, len(runs) / 2)))
    colours = plt.get_cmap("tab10")
    step = 0.6 / max(len(runs), 1)
    for j, run in enumerate(runs):
        sub = summary[summary["run"].astype(str) == run]
        y = np.array([labels.index(lab) for lab in _pairing_labels(sub)]) + (j - (len(runs) - 1) / 2) * step
        x = sub["mean_pcc"].to_numpy(float)
        if "mean_pcc_low" in sub and sub["mean_pcc_low"].notna().any():
            # a bias-corrected jackknife interval need not contain the mean: drawn as it is, not as +- errors
            ax.hlines(y, sub["mean_pcc_low"], sub["mean_pcc_high"], color=colours(j), lw=1.2)
        significant = sub["mean_significant"].astype(bool).to_numpy()
        ax.scatter(x[significant], y[significant], color=colours(j), s=28, zorder=3, label=f"run {run}")
        ax.scatter(x[~significant], y[~significant], facecolor="white", edgecolor=colours(j), s=28, zorder=3)
        if "control_mean_pcc" in sub and sub["control_mean_pcc"].notna().any():
            ax.scatter(sub["control_mean_pcc"], y, marker="x", color="0.55", s=20, zorder=2,
                       label="control (other movie)" if j == 0 else None)
    return _pairings_png(fig, ax, labels, "mean PCC of Eq.2 pairs (interval over test subjects; hollow: not significant)")


def eq1_vs_eq2_chart(table: pd.DataFrame) -> bytes:
    """Eq.2 (each FBN with its best filter) against Eq.1 (each filter with its best FBN), per model and layer."""
    labels = _pairing_labels(table)
    y = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.38 * len(labels)))
    ax.hlines(y, table["mean_pcc_eq2"], table["mean_pcc_eq1"], color="0.75")
    ax.scatter(table["mean_pcc_eq2"], y, color="#1f77b4", s=28, zorder=3, label="Eq.2: FBN -> best filter")
    ax.scatter(table["mean_pcc_eq1"], y, color="#ff7f0e", s=28, zorder=3, label="Eq.1: filter -> best FBN")
    return _pairings_png(fig, ax, labels, "mean PCC over runs")


def square_matrix(values: np.ndarray, labels: list[str], title: str, *, vmin: float = -1.0, vmax: float = 1.0) -> bytes:
    """A labelled square matrix (e.g. layer-by-layer RDM similarity) with its values written in the cells."""
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    im = ax.imshow(values, cmap="RdBu_r", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(values[i, j]) > 0.6 * vmax else "black")
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return _png(fig)


def rdm_panels(rdms: dict[str, np.ndarray], title: str) -> bytes:
    """One RDM per layer side by side (rank-transformed for display, as rsatoolbox shows them)."""
    from scipy.stats import rankdata

    fig, axes = plt.subplots(1, len(rdms), figsize=(1.9 * len(rdms), 2.2), squeeze=False)
    for ax, (layer, matrix) in zip(axes[0], rdms.items(), strict=True):
        ranks = rankdata(matrix, axis=None).reshape(matrix.shape)
        np.fill_diagonal(ranks, np.nan)
        ax.imshow(ranks, cmap="viridis", interpolation="nearest")
        ax.set_title(layer, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def image_grid(images: np.ndarray, *, columns: int = 16, size: int = 64) -> bytes:
    """Images (uint8 RGB, shape (n, H, W, 3)) as one JPEG grid of ``size`` pixel thumbnails."""
    from PIL import Image

    n = len(images)
    rows = -(-n // columns)
    canvas = Image.new("RGB", (min(n, columns) * (size + 2), rows * (size + 2)), "white")
    for i, image in enumerate(np.asarray(images, dtype=np.uint8)):
        tile = Image.fromarray(image).resize((size, size))
        canvas.paste(tile, ((i % columns) * (size + 2), (i // columns) * (size + 2)))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def label_views(labels: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: list[str], title: str, *,
                n_slices: int = 6) -> bytes:
    """A label volume (0: none, i: ``names[i - 1]``; e.g. a winner-take-all layer map) on axial slices."""
    from matplotlib.patches import Patch

    labels = np.asarray(labels)
    if affine[0, 0] < 0:
        labels, mask = labels[::-1], mask[::-1]
    present = np.flatnonzero((labels > 0).any(axis=(0, 1)))
    inside = np.flatnonzero(mask.any(axis=(0, 1)))
    low, high = (present.min(), present.max()) if present.size else (inside.min(), inside.max())
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, n_slices, figsize=(1.6 * n_slices, 2.2))
    for ax, z in zip(axes, np.linspace(low, high, n_slices).round().astype(int), strict=True):
        rgb = np.where(mask[:, :, z].T[::-1, :, None], 0.85, 1.0) * np.ones((*mask.shape[:2][::-1], 3))
        plane = labels[:, :, z].T[::-1]
        for i in range(1, len(names) + 1):
            rgb[plane == i] = colours(i - 1)[:3]
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"z={affine[2, 2] * z + affine[2, 3]:.0f}", fontsize=7)
        ax.axis("off")
    fig.legend(handles=[Patch(color=colours(i), label=name) for i, name in enumerate(names)], loc="lower center",
               ncol=len(names), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _png(fig)


def synthesis_curve(history: pd.DataFrame) -> bytes:
    """The synthesis' loss and the mean |r| between layer RDMs per step."""
    fig, ax = plt.subplots(figsize=(4.6, 2.6))
    ax.plot(history["step"], history["loss"], label="loss")
    if "mean_abs_r" in history:
        ax.plot(history["step"], history["mean_abs_r"], label="mean |r| between layers")
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    return _png(fig)
