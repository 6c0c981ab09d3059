"""Identifiable FBNs: the spatially independent maps inside the span a trained embedding fixes.

The reconstruction loss of the Sync-ACT autoencoder does not change when the encoder's maps are mixed
by an invertible K x K matrix ``M`` and the rest of the network undoes it, so training returns an
arbitrary member of that family: each raw FBN map is a mixture of brain networks. Identification
picks one member, the one whose maps are spatially independent (FastICA over voxels, as group ICA
does on a PCA subspace), and rewrites the trained network so that it computes exactly the same
reconstructions with those maps (:func:`reparametrise`).

The algebra, with row-vector time points (``Z = X W^T``, ``W`` of shape (K, V) holding the maps):

- maps ``W' = M W``, so ``Z' = X W'^T = Z M^T``;
- LT: ``A = Z``; the decoder ``X_hat = A D^T`` keeps its value with ``D' = D M^-1``;
- LT+MSA, ``g(z) = z + MHA(z)``: the query, key and value projections absorb ``M^-1``
  (``W_q' = W_q M^-1`` ...), so every attention weight and head output is unchanged, and the output
  projection absorbs ``M`` (``W_o' = M W_o``, ``b_o' = M b_o``); then ``g'(Z M^T) = g(Z) M^T`` and the
  identified activations are ``A' = A M^T``. The decoder's attention is rewritten the same way and
  ``D' = D M^-1``;
- LT+LSTM: the first LSTM layer's input weights absorb ``M^-1`` (``W_ih' = W_ih M^-1``), so the gates,
  the hidden states and the reconstruction are unchanged. An LSTM's hidden state cannot be mixed by
  ``M`` (it passes through sigmoids and tanh), so its K hidden units stay what training made them;
  :class:`syncact.networks.FBNEmbedding` therefore reports the identified maps' own time courses
  ``Z'`` as the LT+LSTM FBN activations (see ``docs/method.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from syncact._validation import check_positive
from syncact.exceptions import ShapeError
from syncact.networks.base import positive_peaks

IDENTIFY_METHODS = ("ica", "none")


@dataclass(frozen=True)
class Identification:
    """How identified maps were obtained from the trained ones.

    Attributes
    ----------
    mixing : ndarray of shape (n_networks, n_networks)
        ``M``: identified maps ``= M @ trained maps`` (signs, scale and order included).
    negentropy : ndarray of shape (n_networks,)
        Non-Gaussianity of each identified map over voxels (logcosh approximation), in the final order.
    restart : int
        Which FastICA restart was refined (the one of highest total negentropy on the voxel sample).
    seconds : float
        Wall time of the identification (FastICA, ordering and rewriting the network).
    """

    mixing: np.ndarray
    negentropy: np.ndarray
    restart: int
    seconds: float = 0.0


def _negentropy(sources: np.ndarray) -> np.ndarray:
    """``(E[G(y)] - E[G(nu)])^2`` with ``G = log cosh`` of each standardised row of ``sources`` (K, V)."""
    y = (sources - sources.mean(axis=1, keepdims=True)) / sources.std(axis=1, keepdims=True)
    gaussian = 0.3745672075  # E[log cosh(nu)] for a standard normal nu
    g = np.logaddexp(y, -y) - np.log(2.0)
    return (g.mean(axis=1) - gaussian) ** 2


def _fastica(white: np.ndarray, seed: int, max_iter: int, tol: float, init: np.ndarray | None = None) -> np.ndarray:
    """scikit-learn's FastICA (symmetric, logcosh) on whitened samples (n, K): the (K, K) rotation."""
    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning

    ica = FastICA(whiten=False, fun="logcosh", max_iter=max_iter, tol=tol, random_state=seed, w_init=init)
    with warnings.catch_warnings():  # expected when FBNs outnumber networks (see independent_maps)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ica.fit(white)
    return ica.components_.astype(np.float64)


def independent_maps(maps: np.ndarray, *, n_restarts: int = 5, seed: int = 0, n_sample: int = 4096,
                     max_iter: int = 50, n_refine: int = 10, tol: float = 1e-4) -> Identification:
    """The unmixing ``M`` that makes the rows of ``M @ maps`` spatially independent.

    FastICA (scikit-learn's, symmetric, logcosh contrast) with voxels as samples and the K maps as features,
    whitened once; ``n_restarts`` runs from seeded random rotations on a seeded sample of ``n_sample``
    voxels, the one with the highest total negentropy (the least Gaussian, i.e. the most network-like, set
    of maps) refined on every voxel. Each identified
    map is signed so its peak is positive and scaled to the root-mean-square norm of the trained maps (so
    the network it feeds sees inputs of the size it was trained on); maps are ordered by decreasing
    negentropy here, and :class:`~syncact.networks.FBNEmbedding` re-orders them by the variance of the
    training data along each map. Cost O(V K^2) per iteration: linear in voxels.

    Parameters
    ----------
    maps : ndarray of shape (n_networks, n_voxels)
        Trained maps (linearly independent rows).
    n_restarts : int, default=5
    seed : int, default=0
        Seeds the voxel sample and the restarts (restart ``i`` uses ``seed + i``).
    n_sample : int, default=4096
        Voxels the restarts explore on (all of them when there are fewer).
    max_iter : int, default=50
        FastICA iterations per run at most. FastICA stops when every component has converged, but with more
        FBNs than networks the Gaussian (noise) components keep rotating among themselves, which changes no
        contrast, while the networks settle within about 25 iterations (on the demo, the maps after 50 equal
        those after 400 at r > 0.9999, ``tests/networks/test_identify.py``).
    n_refine : int, default=10
        FastICA iterations on every voxel from the best restart (on the demo at K = 32 the maps then equal
        those of a 400-iteration run on every voxel at r > 0.9999).
    tol : float, default=1e-4
        FastICA's tolerance.

    Returns
    -------
    Identification
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 2 or maps.shape[0] > maps.shape[1]:
        raise ShapeError(f"maps must have shape (n_networks, n_voxels) with n_networks <= n_voxels, got {maps.shape}.")
    check_positive("n_restarts", n_restarts, integer=True)
    scale = np.linalg.norm(maps, axis=1)
    if not np.all(scale > 0):
        raise ShapeError(f"maps {np.flatnonzero(scale == 0)[:8].tolist()} are all zero; they span no network to identify.")
    rms = float(np.sqrt(np.mean(scale**2)))
    # the trained maps' scales are arbitrary: whiten what they span (once, shared by every restart), not their sizes
    unit = maps / scale[:, None]
    centred = (unit - unit.mean(axis=1, keepdims=True)).T  # (V, K): voxels are the samples
    eigvals, eigvecs = np.linalg.eigh(centred.T @ centred / centred.shape[0])
    if eigvals[0] <= 1e-12 * eigvals[-1]:
        raise ShapeError("the maps are linearly dependent (they span fewer than n_networks dimensions); "
                         "train with fewer networks.")
    whitening = eigvecs / np.sqrt(eigvals)  # (K, K): centred @ whitening has identity covariance
    white = (centred @ whitening).astype(np.float32)  # float32 halves the cost of FastICA's passes
    # restarts explore on a seeded sample of voxels; the best is refined on all of them
    rng = np.random.default_rng(seed)
    sample = white[np.sort(rng.choice(len(white), size=min(len(white), n_sample), replace=False))]
    best = None
    for i in range(n_restarts):
        rotation = _fastica(sample, seed + i, max_iter, tol)
        score = _negentropy(rotation @ sample.T)
        if best is None or score.sum() > best[1].sum():
            best = (rotation, score, i)
    rotation = _fastica(white, seed, n_refine, tol, init=best[0]) if n_refine else best[0]
    score, restart = _negentropy(rotation @ white.T), best[2]
    unmixing = (rotation @ whitening.T) / scale[None, :]  # acts on the trained maps
    new = unmixing @ maps
    unmixing = unmixing * (positive_peaks(new) * rms / np.linalg.norm(new, axis=1))[:, None]
    order = np.argsort(-score, kind="stable")
    return Identification(unmixing[order], score[order], restart)


def _absorb_attention(attention: nn.MultiheadAttention, mixing: torch.Tensor, inverse: torch.Tensor) -> None:
    """Rewrite one attention block so that ``block'(z M^T) = block(z) M^T`` (projections in float64)."""
    w = attention.in_proj_weight.detach().double()  # (3K, K): query, key, value stacked
    attention.in_proj_weight.copy_((w @ inverse).to(attention.in_proj_weight.dtype))
    out = attention.out_proj
    out.weight.copy_((mixing @ out.weight.detach().double()).to(out.weight.dtype))
    if out.bias is not None:
        out.bias.copy_((mixing @ out.bias.detach().double()).to(out.bias.dtype))


@torch.no_grad()
def reparametrise(model: nn.Module, mixing: np.ndarray, temporal: str) -> None:
    """Rewrite a trained Sync-ACT autoencoder in place so its maps are ``mixing @ maps`` and it reconstructs
    every input exactly as before (to float rounding); see the module docstring for the algebra.

    Parameters
    ----------
    model : the autoencoder (``encoder``, ``encoder_temporal``, ``decoder_temporal``, ``decoder``)
    mixing : ndarray of shape (n_networks, n_networks)
        An invertible ``M``.
    temporal : {"none", "msa", "lstm"}
    """
    m = torch.as_tensor(np.asarray(mixing), dtype=torch.float64)
    k = model.encoder.weight.shape[0]
    if m.shape != (k, k):
        raise ShapeError(f"mixing must have shape ({k}, {k}) for this model, got {tuple(m.shape)}.")
    inverse = torch.linalg.inv(m)
    enc = model.encoder.weight
    enc.copy_((m @ enc.detach().double()).to(enc.dtype))
    if temporal == "lstm":  # the first LSTM layer reads Z' = Z M^T through W_ih M^-1; nothing after it changes
        lstm = model.encoder_temporal.lstm
        lstm.weight_ih_l0.copy_((lstm.weight_ih_l0.detach().double() @ inverse).to(lstm.weight_ih_l0.dtype))
        return
    if temporal == "msa":
        _absorb_attention(model.encoder_temporal.attention, m, inverse)
        _absorb_attention(model.decoder_temporal.attention, m, inverse)
    dec = model.decoder.weight
    dec.copy_((dec.detach().double() @ inverse).to(dec.dtype))


__all__ = ["IDENTIFY_METHODS", "Identification", "independent_maps", "reparametrise"]
