"""Whole-brain searchlight RSA: a neural RDM per sphere compared with model RDMs, with family-wise inference.

How it is computed (and why it is fast): every dissimilarity of a sphere's RDM follows from the
Gram matrix ``G = X X^T`` of its patterns (``X``: images x voxels of the sphere), the row sums and the
voxel count, so a chunk of spheres is one gather of their voxels (zero-padded to the largest sphere)
and one batched matrix product. Comparing with the model RDMs is one more product of the chunk's
standardized (ranked, for Spearman) RDMs with every model RDM *and every label permutation of it*:
permuting image labels permutes the model RDM, so the permutation null costs one product, not one
searchlight per permutation. Memory is bounded by ``memory_mb`` whatever the number of spheres.

Spheres hold the mask's voxels within ``radius_mm`` of the centre (distances in mm from the image
affine, ``<=`` as nilearn's searchlight), cut at the mask boundary: voxels outside the mask never enter
an RDM (rsatoolbox's default keeps them, its issue #466). Spheres with fewer than ``min_voxels`` voxels
are left out, so boundary spheres are not estimated from a handful of voxels.

Inference: the image labels are permuted ``n_perm`` times (the same permutations for every sphere); for
each layer, the maximum similarity over all spheres of each permutation forms the null of the maximum,
and ``p_fwe`` of a sphere is the share of those maxima at or above its similarity (one-sided, family-wise
over the spheres of that layer's map; Nichols & Holmes 2002).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from syncact._docs import fill_doc
from syncact._io import bar_disabled
from syncact._validation import check_choice, check_positive
from syncact.exceptions import DataError, ShapeError
from syncact.rsa.rdm import COMPARISONS, METRICS, LayerRDMs, compare_rdms
from syncact.units import Executor

logger = logging.getLogger(__name__)


@dataclass
class Spheres:
    """Searchlight neighbourhoods, in compressed sparse row form.

    Attributes
    ----------
    centers : ndarray of int, shape (n_spheres,)
        Column (voxel) index of each sphere's centre in the patterns.
    indptr : ndarray of int, shape (n_spheres + 1,)
    indices : ndarray of int, shape (n_members,)
        Sphere ``s`` holds the pattern columns ``indices[indptr[s]:indptr[s + 1]]``.
    n_voxels : int
        Number of pattern columns the indices refer to.
    radius_mm : float or None
        The radius the spheres were built with (None when given as lists).
    """

    centers: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    n_voxels: int
    radius_mm: float | None = None

    @property
    def n_spheres(self) -> int:
        return int(self.centers.size)

    @property
    def sizes(self) -> np.ndarray:
        """Number of voxels in each sphere: (n_spheres,)."""
        return np.diff(self.indptr)

    def members(self, sphere: int) -> np.ndarray:
        """Pattern columns of one sphere."""
        return self.indices[self.indptr[sphere] : self.indptr[sphere + 1]]

    @classmethod
    def from_lists(cls, centers: Sequence[int], neighbours: Sequence[Sequence[int]], n_voxels: int) -> Spheres:
        """Spheres from a centre and a list of member columns each (e.g. rsatoolbox's ``get_volume_searchlight``)."""
        if len(centers) != len(neighbours):
            raise ShapeError(f"{len(centers)} centres but {len(neighbours)} neighbour lists.")
        sizes = np.array([len(n) for n in neighbours], dtype=np.int64)
        if np.any(sizes < 2):
            raise ShapeError(f"spheres {np.flatnonzero(sizes < 2)[:5].tolist()} have fewer than 2 voxels.")
        indices = np.concatenate([np.asarray(n, dtype=np.int64) for n in neighbours]) if len(neighbours) else np.zeros(0, int)
        if indices.size and (indices.min() < 0 or indices.max() >= n_voxels):
            raise ShapeError(f"neighbour indices reach {int(indices.max())}, but the patterns have {n_voxels} voxels.")
        return cls(np.asarray(centers, dtype=np.int64), np.concatenate([[0], np.cumsum(sizes)]), indices, int(n_voxels))


def sphere_neighbourhoods(mask: np.ndarray, affine: np.ndarray, radius_mm: float = 6.0, *,
                          min_voxels: int | None = None) -> Spheres:
    """A sphere around every voxel of a mask, cut at the mask boundary.

    Parameters
    ----------
    mask : ndarray of bool, shape (x, y, z)
    affine : ndarray of shape (4, 4)
        Voxel to world (mm) transform of the mask.
    radius_mm : float, default=6.0
        Voxels whose centres are at most this far from the sphere's centre are members.
    min_voxels : int, optional
        Spheres with fewer voxels inside the mask are left out. Default: half of a full sphere
        (at least 3).

    Returns
    -------
    Spheres
        Indices refer to the mask's voxels in C order (the columns of masked data).
    """
    check_positive("radius_mm", radius_mm)
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ShapeError(f"the mask must be 3-D, got shape {mask.shape}.")
    ijk = np.argwhere(mask)
    if not len(ijk):
        raise DataError("the mask has no voxels.")
    affine = np.asarray(affine, dtype=np.float64)
    coords = ijk @ affine[:3, :3].T + affine[:3, 3]
    tol = 1e-6 * radius_mm
    full = _full_sphere_size(affine, radius_mm + tol)
    if min_voxels is None:
        min_voxels = max(3, full // 2)
    tree = cKDTree(coords)
    members = tree.query_ball_point(coords, radius_mm + tol, return_sorted=True)
    sizes = np.fromiter((len(m) for m in members), dtype=np.int64, count=len(members))
    keep = np.flatnonzero(sizes >= min_voxels)
    if not keep.size:
        raise DataError(f"no sphere of {radius_mm} mm holds {min_voxels} mask voxels; use a larger radius or min_voxels.")
    if keep.size < len(members):
        logger.info("%d of %d spheres have fewer than %d voxels and are left out", len(members) - keep.size, len(members), min_voxels)
    kept_sizes = sizes[keep]
    indices = np.concatenate([np.asarray(members[i], dtype=np.int64) for i in keep])
    return Spheres(keep.astype(np.int64), np.concatenate([[0], np.cumsum(kept_sizes)]), indices, int(len(ijk)), float(radius_mm))


def _full_sphere_size(affine: np.ndarray, radius: float) -> int:
    """Voxels of an uncut sphere on this grid."""
    zooms = np.linalg.norm(affine[:3, :3], axis=0)
    reach = np.ceil(radius / zooms).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3)
    return int((np.linalg.norm(grid @ affine[:3, :3].T, axis=1) <= radius).sum())


# ----------------------------------------------------------------------------------------------------------
# RDMs of many spheres
# ----------------------------------------------------------------------------------------------------------
def _check_patterns(patterns: np.ndarray, spheres: Spheres) -> np.ndarray:
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ShapeError(f"patterns must be (n_images >= 3, n_voxels), got {x.shape}.")
    if x.shape[1] != spheres.n_voxels:
        raise ShapeError(f"patterns have {x.shape[1]} voxels but the spheres index {spheres.n_voxels}: "
                         "build the spheres from the mask the patterns were masked with.")
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=0))[:5].tolist()
        raise DataError(f"patterns contain NaN or infinite values (voxels {bad}...); mask them out first.")
    return x


def _chunk_size(n_images: int, width: int, n_models: int, memory_mb: float) -> int:
    per_sphere = 8 * (n_images * width + 2 * n_images * n_images + 3 * n_images * (n_images - 1) // 2 + 3 * n_models)
    return max(1, int(memory_mb * 2**20 // per_sphere))


def _sphere_chunks(spheres: Spheres, n_images: int, memory_mb: float, n_models: int, start: int = 0,
                   stop: int | None = None) -> Iterator[np.ndarray]:
    order = np.arange(start, spheres.n_spheres if stop is None else stop)
    if not order.size:
        return
    width = int(spheres.sizes[order].max())
    step = _chunk_size(n_images, width, n_models, memory_mb)
    for start in range(0, order.size, step):
        yield order[start : start + step]


def _chunk_rdms(xt: np.ndarray, spheres: Spheres, chunk: np.ndarray, metric: str) -> np.ndarray:
    """RDMs (upper triangles) of some spheres: (n_chunk, n_pairs); ``xt`` is the (n_voxels, n_images) patterns."""
    n = xt.shape[1]
    sizes = spheres.sizes[chunk]
    width = int(sizes.max())
    valid = np.arange(width)[None, :] < sizes[:, None]
    cols = np.zeros((chunk.size, width), dtype=np.int64)
    cols[valid] = spheres.indices[(spheres.indptr[chunk][:, None] + np.arange(width)[None, :])[valid]]
    gathered = torch.from_numpy(xt[cols] * valid[:, :, None])  # (chunk, width, n), zero padding
    gram = torch.bmm(gathered.transpose(1, 2), gathered)  # (chunk, n, n)
    v = torch.from_numpy(sizes.astype(np.float64))[:, None]
    if metric == "correlation":
        sums = gathered.sum(dim=1)  # (chunk, n)
        gram -= sums[:, :, None] * sums[:, None, :] / v[:, :, None]
    iu = np.triu_indices(n, k=1)
    flat = torch.from_numpy(iu[0] * n + iu[1])
    upper = gram.reshape(chunk.size, n * n).index_select(1, flat)
    diag = torch.diagonal(gram, dim1=1, dim2=2)
    di, dj = diag[:, torch.from_numpy(iu[0])], diag[:, torch.from_numpy(iu[1])]
    if metric == "euclidean":
        return torch.clamp((di + dj - 2 * upper) / v, min=0).numpy()
    return (1 - upper / torch.sqrt(torch.clamp(di, min=0) * torch.clamp(dj, min=0))).numpy()


def rank_rows(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along each row, as ``scipy.stats.rankdata(a, axis=1)``, sorting with torch.

    Rows without ties (the usual case for continuous dissimilarities) are ranked by one sort; rows
    with ties go through scipy.
    """
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    values, order = torch.sort(t, dim=1)
    ranks = torch.empty_like(t)
    ranks.scatter_(1, order, torch.arange(1, t.shape[1] + 1, dtype=t.dtype).expand_as(t).contiguous())
    out = ranks.numpy()
    ties = (values[:, 1:] == values[:, :-1]).any(dim=1).numpy()
    if ties.any():
        out[ties] = stats.rankdata(a[ties], axis=1)
    return out


def searchlight_rdms(patterns: np.ndarray, spheres: Spheres, metric: str = "correlation", *,
                     memory_mb: float = 512.0) -> np.ndarray:
    """The RDM of every sphere.

    Parameters
    ----------
    patterns : ndarray of shape (n_images, n_voxels)
        One pattern per image (e.g. beta or t maps, masked).
    spheres : Spheres
    metric : {"correlation", "euclidean", "cosine"}, default="correlation"
    memory_mb : float, default=512
        Working memory per chunk of spheres.

    Returns
    -------
    ndarray of shape (n_spheres, n_images * (n_images - 1) / 2)
        NaN where a sphere's pattern of an image is constant (correlation, cosine).
        This array holds every sphere's RDM at once; :func:`searchlight_rsa` never does.
    """
    check_choice("metric", metric, METRICS)
    x = _check_patterns(patterns, spheres)
    xt = np.ascontiguousarray(x.T)
    out = np.empty((spheres.n_spheres, x.shape[0] * (x.shape[0] - 1) // 2))
    for chunk in _sphere_chunks(spheres, x.shape[0], memory_mb, 0):
        out[chunk] = _chunk_rdms(xt, spheres, chunk, metric)
    return out


# ----------------------------------------------------------------------------------------------------------
# Comparison with model RDMs and the permutation null
# ----------------------------------------------------------------------------------------------------------
def permuted_pairs(n_images: int, permutation: np.ndarray) -> np.ndarray:
    """Where each pair of an RDM's upper triangle goes when the image labels are permuted.

    ``rdm_vector(patterns[permutation]) == rdm_vector(patterns)[permuted_pairs(n, permutation)]``.

    Parameters
    ----------
    n_images : int
    permutation : ndarray of int, shape (n_images,)

    Returns
    -------
    ndarray of int, shape (n_images * (n_images - 1) / 2,)
    """
    iu = np.triu_indices(n_images, k=1)
    index = np.zeros((n_images, n_images), dtype=np.int64)
    index[iu] = np.arange(iu[0].size)
    index = index + index.T
    return index[permutation[iu[0]], permutation[iu[1]]]


def _standardize(v: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (NaN rows where constant)."""
    v = v - v.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / norm


def _comparable(rdms: np.ndarray, method: str) -> np.ndarray:
    """RDM rows prepared so that a row-by-row dot product is ``method``: ranked for Spearman, then
    unit-norm (cosine) or centred and unit-norm (Pearson, Spearman). NaN rows where undefined."""
    v = rank_rows(rdms) if method == "spearman" else rdms
    if method != "cosine":
        return _standardize(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@dataclass
class SearchlightMaps:
    """Searchlight RSA of several model RDMs (layers) over the same spheres.

    Attributes
    ----------
    layers : list of str
    similarity : ndarray of shape (n_layers, n_spheres)
        Neural RDM vs model RDM per sphere (NaN where the sphere's RDM is undefined).
    p_fwe : ndarray of shape (n_layers, n_spheres)
        Family-wise p over the spheres of each layer's map (max-statistic permutation); NaN without permutations.
    p_uncorrected : ndarray of shape (n_layers, n_spheres)
        Per-sphere permutation p; NaN without permutations.
    null_max : ndarray of shape (n_layers, n_perm)
        Maximum similarity over spheres in each permutation.
    centers : ndarray of int, shape (n_spheres,)
        Column (mask voxel) of each sphere's centre.
    n_voxels : int
        Mask voxels the centres index (the length of a map).
    method, metric : str
    n_perm : int
    """

    layers: list[str]
    similarity: np.ndarray
    p_fwe: np.ndarray
    p_uncorrected: np.ndarray
    null_max: np.ndarray
    centers: np.ndarray
    n_voxels: int
    method: str
    metric: str
    n_perm: int
    meta: dict[str, object] = field(default_factory=dict)

    def significant(self, alpha: float = 0.05) -> np.ndarray:
        """Spheres significant at family-wise ``alpha``: bool (n_layers, n_spheres)."""
        if self.n_perm == 0:
            raise DataError("no permutations were run: call searchlight_rsa with n_perm > 0 to test.")
        return np.nan_to_num(self.p_fwe, nan=1.0) <= alpha

    def winner_take_all(self, alpha: float | None = 0.05) -> np.ndarray:
        """The best layer at each sphere: (n_spheres,) of layer indices, -1 where none is significant.

        With ``alpha=None`` every sphere gets the layer of highest similarity.
        """
        sim = np.where(np.isnan(self.similarity), -np.inf, self.similarity)
        if alpha is not None:
            sim = np.where(self.significant(alpha), sim, -np.inf)
        best = sim.argmax(axis=0)
        return np.where(np.isfinite(sim.max(axis=0)), best, -1)

    def dice(self, alpha: float = 0.05) -> np.ndarray:
        """Dice overlap of every two layers' significant maps: (n_layers, n_layers); NaN where both are empty."""
        sig = self.significant(alpha).astype(np.float64)
        inter = sig @ sig.T
        total = sig.sum(axis=1)[:, None] + sig.sum(axis=1)[None]
        return np.divide(2 * inter, total, out=np.full(inter.shape, np.nan), where=total > 0)

    def mean_dice(self, alpha: float = 0.05) -> float:
        """Mean Dice overlap between different layers' significant maps (NaN pairs left out)."""
        d = self.dice(alpha)
        off = d[~np.eye(len(self.layers), dtype=bool)]
        return float(np.nanmean(off)) if np.isfinite(off).any() else float("nan")

    def map(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Per-sphere values as a map over all mask voxels: (..., n_voxels)."""
        values = np.asarray(values)
        out = np.full(values.shape[:-1] + (self.n_voxels,), fill, dtype=np.float64)
        out[..., self.centers] = values
        return out

    def to_arrays(self, alpha: float = 0.05) -> dict[str, np.ndarray]:
        """The maps over all mask voxels (or grayordinates): similarity and -log10 p_fwe per layer, the winner-take-all
        map (layer index + 1; 0 where none)."""
        arrays: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            arrays[f"{layer}_similarity"] = np.nan_to_num(self.map(self.similarity[i])).astype(np.float32)
            if self.n_perm:
                logp = -np.log10(np.nan_to_num(self.p_fwe[i], nan=1.0))
                arrays[f"{layer}_logp_fwe"] = self.map(logp, 0.0).astype(np.float32)
        if self.n_perm:
            arrays["winner_take_all"] = self.map(self.winner_take_all(alpha) + 1, 0.0).astype(np.int16)
        return arrays

    def to_images(self, mask_img: object, alpha: float = 0.05) -> dict[str, object]:
        """:meth:`to_arrays` as NIfTI images on the mask's grid (``"<layer>_similarity"``, ``"<layer>_logp_fwe"``,
        ``"winner_take_all"``)."""
        from nilearn.masking import unmask

        return {name: unmask(values, mask_img) for name, values in self.to_arrays(alpha).items()}

    def save(self, directory: str | Path, space: object, alpha: float = 0.05) -> list[Path]:
        """Write :meth:`to_arrays` as ``<name>.nii.gz`` files on a mask image's grid, or as ``<name>.dscalar.nii`` when
        ``space`` is a CIFTI ``BrainModelAxis`` (grayordinates); each written atomically."""
        from nibabel.cifti2 import cifti2_axes

        from syncact._io import atomic_path
        from syncact.brain.cifti import SUFFIX, dscalar

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        if isinstance(space, cifti2_axes.BrainModelAxis):
            images = {f"{name}{SUFFIX}": dscalar(values[None], space, [name])
                      for name, values in self.to_arrays(alpha).items()}
        else:
            images = {f"{name}.nii.gz": img for name, img in self.to_images(space, alpha).items()}
        for name, img in images.items():
            path = directory / name
            with atomic_path(path) as tmp:
                img.to_filename(tmp)
            written.append(path)
        return written


@fill_doc
def searchlight_rsa(patterns: np.ndarray, spheres: Spheres, models: LayerRDMs | np.ndarray, *,
                    layers: Sequence[str] | None = None, metric: str = "correlation", method: str = "spearman",
                    n_perm: int = 1000, seed: int = 0, memory_mb: float = 512.0, progress: bool = False,
                    executor: Executor | None = None, n_parts: int | None = None,
                    store: str | Path | None = None) -> SearchlightMaps:
    """Compare every sphere's neural RDM with each model RDM, with a max-statistic permutation test.

    Parameters
    ----------
    patterns : ndarray of shape (n_images, n_voxels)
        Image-specific patterns (masked), rows in the order of the model RDMs' images.
    spheres : Spheres
        From :func:`sphere_neighbourhoods` on the same mask.
    models : LayerRDMs or ndarray of shape (n_layers, n_pairs)
        Model RDMs (upper triangles), e.g. :func:`syncact.rsa.layer_rdms` or residual RDMs.
    layers : sequence of str, optional
        Names when ``models`` is an array.
    metric : {"correlation", "euclidean", "cosine"}, default="correlation"
        Dissimilarity of the neural patterns.
    method : {"spearman", "pearson", "kendall_tau_a", "cosine"}, default="spearman"
    n_perm : int, default=1000
        Label permutations for the family-wise test (0 skips testing).
    seed : int, default=0
    memory_mb : float, default=512
        Working memory per chunk of spheres (the permuted model RDMs, ``n_layers * (n_perm + 1) * n_pairs``
        floats, come on top for Spearman and Pearson).
    %(progress)s
    %(executor)s
    n_parts : int, optional
        Number of sphere ranges (default: 4 per worker, 32 with a scheduler).
    store : path, optional
        Where the parts' results are kept (reused by a rerun with the same inputs); default a temporary folder.

    Returns
    -------
    SearchlightMaps
    """
    check_choice("metric", metric, METRICS)
    check_choice("method", method, COMPARISONS)
    check_positive("n_perm", n_perm, integer=True, allow_zero=True)
    x = _check_patterns(patterns, spheres)
    n = x.shape[0]
    if isinstance(models, LayerRDMs):
        names, vectors = list(models.layers), np.asarray(models.vectors, dtype=np.float64)
    else:
        vectors = np.atleast_2d(np.asarray(models, dtype=np.float64))
        names = list(layers) if layers is not None else [f"model{i}" for i in range(vectors.shape[0])]
    if vectors.shape[1] != n * (n - 1) // 2:
        raise ShapeError(f"model RDMs have {vectors.shape[1]} dissimilarities but {n} images give {n * (n - 1) // 2}: "
                         "give the patterns of the same images, in the same order.")
    if len(names) != vectors.shape[0]:
        raise ShapeError(f"{len(names)} layer names for {vectors.shape[0]} model RDMs.")
    if not np.isfinite(vectors).all():
        raise DataError("model RDMs contain NaN or infinite values.")
    n_layers = len(names)
    if executor is None or executor.in_process:
        part = searchlight_part(x, spheres, vectors, start=0, stop=spheres.n_spheres, metric=metric, method=method,
                                n_perm=int(n_perm), seed=seed, memory_mb=memory_mb, progress=progress)
        similarity, exceed, null_max = part["similarity"], part["exceed"], part["null_max"]
    else:
        similarity, exceed, null_max = _run_parts(x, spheres, vectors, metric=metric, method=method, n_perm=int(n_perm),
                                                  seed=seed, memory_mb=memory_mb, executor=executor,
                                                  n_parts=n_parts, store=store, progress=progress)
    if n_perm:
        sorted_max = np.sort(null_max, axis=1)
        at_or_above = np.stack([n_perm - np.searchsorted(sorted_max[i], similarity[i], side="left") for i in range(n_layers)])
        p_fwe = (1 + at_or_above) / (1 + n_perm)
        p_unc = (1 + exceed) / (1 + n_perm)
        p_fwe[np.isnan(similarity)] = np.nan
        p_unc[np.isnan(similarity)] = np.nan
    else:
        p_fwe = p_unc = np.full_like(similarity, np.nan)
        null_max = np.zeros((n_layers, 0))
    return SearchlightMaps(names, similarity, p_fwe, p_unc, null_max, spheres.centers.copy(), spheres.n_voxels,
                           method, metric, int(n_perm), {"radius_mm": spheres.radius_mm, "seed": seed})


def _model_stack(vectors: np.ndarray, n: int, method: str, n_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Pair indices of the identity and ``n_perm`` label permutations, and the standardized permuted model RDMs."""
    rng = np.random.default_rng(seed)
    perms = [np.arange(n)] + [rng.permutation(n) for _ in range(int(n_perm))]
    index = np.stack([permuted_pairs(n, p) for p in perms])  # (n_perm + 1, n_pairs)
    if method not in ("pearson", "spearman", "cosine"):
        return index, None
    base = _comparable(vectors, method)
    return index, base[:, index].reshape(vectors.shape[0] * len(perms), -1)  # layer-major: (layer, perm)


def searchlight_part(patterns: np.ndarray, spheres: Spheres, vectors: np.ndarray, *, start: int, stop: int,
                     metric: str, method: str, n_perm: int, seed: int, memory_mb: float = 512.0,
                     progress: bool = False) -> dict[str, np.ndarray]:
    """Spheres ``start:stop`` of :func:`searchlight_rsa`: the unit a distributed searchlight runs.

    The label permutations follow from ``seed`` alone, so every part uses the same ones.

    Returns
    -------
    dict with ``similarity`` and ``exceed`` (permutations at or above the observed similarity), both
    (n_layers, stop - start), and ``null_max`` (n_layers, n_perm): the parts' maximum over their spheres.
    """
    x = np.asarray(patterns, dtype=np.float64)
    n, n_layers = x.shape[0], vectors.shape[0]
    index, stacked = _model_stack(vectors, n, method, n_perm, seed)
    n_cols = index.shape[0]
    similarity = np.full((n_layers, stop - start), np.nan)
    exceed = np.zeros((n_layers, stop - start))
    null_max = np.full((n_layers, n_perm), -np.inf)
    xt = np.ascontiguousarray(x.T)
    chunks = list(_sphere_chunks(spheres, n, memory_mb, n_layers * n_cols, start, stop))
    for chunk in tqdm(chunks, desc="searchlight", unit="chunk", disable=bar_disabled(progress), leave=False):
        rdms = _chunk_rdms(xt, spheres, chunk, metric)
        ok = np.isfinite(rdms).all(axis=1)
        if stacked is not None:
            r = (_comparable(rdms, method) @ stacked.T).reshape(chunk.size, n_layers, n_cols)
        else:
            permuted = vectors[:, index].reshape(n_layers * n_cols, -1)
            r = compare_rdms(rdms, permuted, method).reshape(chunk.size, n_layers, n_cols)
        r[~ok] = np.nan
        local = chunk - start
        similarity[:, local] = r[:, :, 0].T
        if n_perm:
            null = np.nan_to_num(r[:, :, 1:], nan=-np.inf)
            exceed[:, local] = (null >= r[:, :, :1]).sum(axis=2).T
            null_max = np.maximum(null_max, null.max(axis=0))
    return {"similarity": similarity, "exceed": exceed, "null_max": null_max}


def _run_parts(x: np.ndarray, spheres: Spheres, vectors: np.ndarray, *, metric: str, method: str, n_perm: int, seed: int,
               memory_mb: float, executor: Executor, n_parts: int | None,
               store: str | Path | None, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sphere ranges as units of :mod:`syncact.units`; their pieces joined, their null maxima maximised."""
    import tempfile

    from syncact.units import Plan

    count = n_parts or (4 * executor.workers if executor.workers else 32)
    bounds = np.linspace(0, spheres.n_spheres, min(count, spheres.n_spheres) + 1).astype(int)
    plan = Plan()
    for i, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        plan.add(f"searchlight/part-{i:04d}", searchlight_part, patterns=x, spheres=spheres, vectors=vectors,
                 start=int(start), stop=int(stop), metric=metric, method=method, n_perm=n_perm, seed=seed,
                 memory_mb=memory_mb)
    with tempfile.TemporaryDirectory(prefix="syncact-searchlight-") as tmp:
        done = executor.run(plan, store or tmp, progress=progress)
        parts = [done[name] for name in plan.units]
    similarity = np.concatenate([p["similarity"] for p in parts], axis=1)
    exceed = np.concatenate([p["exceed"] for p in parts], axis=1)
    null_max = np.max(np.stack([p["null_max"] for p in parts]), axis=0)
    return similarity, exceed, null_max
