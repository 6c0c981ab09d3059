"""Representational dissimilarity matrices (RDMs) and their comparison, batched.

The second seed method (layer-orthogonal image synthesis, searchlight RSA, residual RDMs) is built on these:
an RDM per CNN layer (or per searchlight sphere) for a set of N images, stored as its upper triangle
(``N (N - 1) / 2`` dissimilarities, row-major above the diagonal, as ``scipy.spatial.distance.pdist``),
and comparisons of many RDMs with many others in one product.

Dissimilarities (``metric``), equal to rsatoolbox's ``calc_rdm`` where it has them:

``"correlation"``
    ``1 - r`` between two conditions' patterns (rsatoolbox "correlation").
``"euclidean"``
    mean squared difference per feature, ``||x - y||^2 / n_features`` (rsatoolbox "euclidean").
``"cosine"``
    ``1 - cos(x, y)`` (scipy's ``pdist(..., "cosine")``).

Comparisons (``method``), equal to rsatoolbox's ``compare``: ``"pearson"`` ("corr"), ``"spearman"``,
``"kendall_tau_a"`` ("tau-a"), ``"cosine"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from syncact._validation import check_choice
from syncact.exceptions import DataError, ShapeError

if TYPE_CHECKING:
    from syncact.ann.registry import BuiltModel

METRICS = ("correlation", "euclidean", "cosine")
COMPARISONS = ("pearson", "spearman", "kendall_tau_a", "cosine")


def _patterns(patterns: np.ndarray, name: str = "patterns") -> np.ndarray:
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ShapeError(f"{name} must be (n_conditions >= 3, n_features), got {x.shape}.")
    if not np.isfinite(x).all():
        raise DataError(f"{name} contain NaN or infinite values.")
    return x


def rdm_vector(patterns: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """Upper triangle of the RDM of ``patterns``.

    Parameters
    ----------
    patterns : ndarray of shape (n_conditions, n_features)
        One row per image (condition).
    metric : {"correlation", "euclidean", "cosine"}, default="correlation"

    Returns
    -------
    ndarray of shape (n_conditions * (n_conditions - 1) / 2,)
    """
    check_choice("metric", metric, METRICS)
    x = _patterns(patterns)
    n, p = x.shape
    if metric == "euclidean":
        sq = (x**2).sum(axis=1)
        d = (sq[:, None] + sq[None] - 2 * x @ x.T) / p
        d = np.maximum(d, 0)
    else:
        if metric == "correlation":
            x = x - x.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(x, axis=1)
        if np.any(norms == 0):
            bad = np.flatnonzero(norms == 0)[:5].tolist()
            raise DataError(f"conditions {bad} have constant patterns: their {metric} distance is undefined.")
        u = x / norms[:, None]
        d = 1 - u @ u.T
    return d[np.triu_indices(n, k=1)]


def square(vector: np.ndarray) -> np.ndarray:
    """The full symmetric (n, n) RDM, zero diagonal, from its upper triangle."""
    vector = np.asarray(vector, dtype=np.float64)
    n = int(round((1 + np.sqrt(1 + 8 * vector.size)) / 2))
    if n * (n - 1) // 2 != vector.size:
        raise ShapeError(f"{vector.size} values are not the upper triangle of a square matrix.")
    out = np.zeros((n, n))
    out[np.triu_indices(n, k=1)] = vector
    return out + out.T


def compare_rdms(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> np.ndarray:
    """Similarity of every RDM in ``a`` with every RDM in ``b``.

    Parameters
    ----------
    a : ndarray of shape (n_a, n_pairs) or (n_pairs,)
        Upper triangles.
    b : ndarray of shape (n_b, n_pairs) or (n_pairs,)
    method : {"pearson", "spearman", "kendall_tau_a", "cosine"}, default="spearman"
        Kendall's tau-a counts concordant minus discordant pairs over all pairs (ties count zero), the
        measure recommended for RDMs with tied predictions (Nili et al. 2014); it is O(n_pairs^2).

    Returns
    -------
    ndarray of shape (n_a, n_b)
    """
    check_choice("method", method, COMPARISONS)
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"RDMs of {a.shape[1]} and {b.shape[1]} dissimilarities: compare RDMs of the same images.")
    if method == "kendall_tau_a":
        iu = np.triu_indices(a.shape[1], k=1)
        sa = np.sign(a[:, :, None] - a[:, None, :])[:, iu[0], iu[1]]  # (n_a, n_pairs choose 2)
        sb = np.sign(b[:, :, None] - b[:, None, :])[:, iu[0], iu[1]]
        return sa @ sb.T / iu[0].size
    if method == "spearman":
        a, b = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    if method in ("pearson", "spearman"):
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    denom = na[:, None] * nb[None]
    return np.divide(a @ b.T, denom, out=np.full(denom.shape, np.nan), where=denom > 0)


@dataclass
class LayerRDMs:
    """RDMs of one image set at several layers.

    Attributes
    ----------
    layers : list of str
    vectors : ndarray of shape (n_layers, n_pairs)
        Upper triangles, one row per layer.
    metric : str
    """

    layers: list[str]
    vectors: np.ndarray
    metric: str

    @property
    def n_conditions(self) -> int:
        return square(self.vectors[0]).shape[0]

    def matrix(self, layer: str) -> np.ndarray:
        """The full (n, n) RDM of one layer."""
        return square(self.vectors[self.layers.index(layer)])

    def similarity(self, method: str = "pearson") -> np.ndarray:
        """Layer-by-layer similarity of the RDMs: (n_layers, n_layers)."""
        return compare_rdms(self.vectors, self.vectors, method)

    def mean_abs_offdiagonal(self, method: str = "pearson") -> float:
        """Mean |similarity| between different layers' RDMs: how far the layers are from orthogonal."""
        sim = self.similarity(method)
        off = ~np.eye(len(self.layers), dtype=bool)
        return float(np.abs(sim[off]).mean())


def layer_rdms(patterns: Mapping[str, np.ndarray] | Sequence[tuple[str, np.ndarray]], metric: str = "correlation") -> LayerRDMs:
    """The RDM of every layer of one image set.

    Parameters
    ----------
    patterns : mapping of layer name to ndarray of shape (n_images, n_features)
        Each layer's activations to the same images (feature maps flattened).
    metric : {"correlation", "euclidean", "cosine"}, default="correlation"

    Returns
    -------
    LayerRDMs
    """
    items = list(patterns.items()) if isinstance(patterns, Mapping) else list(patterns)
    if not items:
        raise ShapeError("no layers given.")
    counts = {name: np.asarray(x).shape[0] for name, x in items}
    if len(set(counts.values())) != 1:
        raise ShapeError(f"layers have different numbers of images: {counts}; give every layer the same images.")
    return LayerRDMs([name for name, _ in items], np.stack([rdm_vector(x, metric) for _, x in items]), metric)


def image_rdms(images: np.ndarray, built: BuiltModel, layers: Sequence[str], *, input_size: int | None = None,
               metric: str = "correlation") -> LayerRDMs:
    """RDMs of an image set at several layers of a network (flattened activations, one forward pass).

    Parameters
    ----------
    images : ndarray of uint8, shape (n_images, h, w, 3)
    built : BuiltModel
    layers : sequence of str
    input_size : int, optional
        Side the images are resized to (bilinear, antialiased) before the network; default the model's.
    metric : {"correlation", "euclidean", "cosine"}, default="correlation"

    Returns
    -------
    LayerRDMs
    """
    from syncact.ann.probe import layer_patterns

    size = int(input_size or built.input_size)
    if size != built.input_size:
        built = built.with_input_size(size)
    patterns = layer_patterns(images, built, list(layers))
    return layer_rdms({layer: patterns[layer].astype(np.float64) for layer in layers}, metric)
