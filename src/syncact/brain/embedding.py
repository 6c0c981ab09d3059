"""The Sync-ACT fMRI embedding: functional brain networks from an unsupervised encoder-decoder.

For a run ``X`` (time x voxel, each voxel z-scored) the encoder computes ``Z = X W`` with one
``W`` (voxel x K) shared by all subjects, whose columns are the FBN spatial maps, then a temporal
module ``g`` gives the FBN temporal activations ``A = g(Z)`` (time x K). The decoder mirrors it (a
second temporal module, then K -> voxel). Training minimises the MSE between ``X`` and its
reconstruction (Adam, lr 0.01, batch 16, 100 epochs in the paper).

``sparsity`` (default 0, the paper) adds ``sparsity * mean|W|`` to the loss. The reconstruction loss
alone is unchanged when ``W`` is mixed by any invertible matrix that the decoder undoes, so the paper's
maps are only determined up to such a mixing; an L1 term picks sparse, localised maps out of that set.

``n_components`` (default 256) trains in the span of the top principal directions of the training
runs: ``W = B Omega`` with ``B`` (voxel x r) orthonormal. Directions of ``W`` outside the span of the
training data do not change ``X W`` on the training data, so for ``r`` equal to the data rank this is
the same optimisation problem; a smaller ``r`` drops the lowest-variance directions, as group ICA's PCA
step does. The reconstruction loss is still reported over all voxels (the energy outside the span is
added as a constant). Each step then costs O(T r) instead of O(T V), which is what makes hundreds of
epochs affordable on a CPU. ``n_components=None`` trains on the voxels directly.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from syncact._validation import check_choice, check_fractions, check_positive
from syncact.exceptions import ConfigError, ShapeError

logger = logging.getLogger(__name__)

TEMPORAL_MODULES = ("none", "lstm", "msa")


def split_subjects(
    subjects: Sequence[str], fractions: Sequence[float] = (0.6, 0.1, 0.3), *, seed: int = 0
) -> dict[str, list[str]]:
    """Split subjects into train / validation / test groups (60/10/30 in the paper).

    Each group with a non-zero fraction gets at least one subject; the rest follow the fractions.

    Parameters
    ----------
    subjects : sequence of str
        Subject labels (at least 3 when every fraction is non-zero).
    fractions : (train, validation, test), default=(0.6, 0.1, 0.3)
    seed : int, default=0

    Returns
    -------
    dict with keys "train", "validation", "test", each a sorted list of labels
    """
    fractions = check_fractions("split", fractions, 3)
    subjects = sorted(set(subjects))
    needed = sum(f > 0 for f in fractions)
    if len(subjects) < needed:
        raise ConfigError(f"split {fractions} needs at least {needed} subjects, got {len(subjects)}: {subjects}.")
    n = len(subjects)
    counts = [max(1, round(f * n)) if f > 0 else 0 for f in fractions]
    while sum(counts) > n:  # take from the largest group
        counts[int(np.argmax(counts))] -= 1
    counts[0] += n - sum(counts)
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [subjects[i] for i in order]
    groups, start = {}, 0
    for name, count in zip(("train", "validation", "test"), counts, strict=False):
        groups[name] = sorted(shuffled[start : start + count])
        start += count
    return groups


class _SelfAttention(nn.Module):
    """Multi-head self-attention over time with a residual connection: A = Z + MHA(Z, Z, Z)."""

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, n_heads, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.attention(z, z, z, need_weights=False)
        return z + out


class _LSTM(nn.Module):
    """Two stacked LSTM layers (tanh) over time, K -> K."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers=2, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lstm(z)[0]


def _project(data: torch.Tensor, basis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates of runs in ``basis`` (n, T, r) and the energy each run has outside it (n,)."""
    reduced = data @ basis
    residual = (data.double() ** 2).sum(dim=(1, 2)) - (reduced.double() ** 2).sum(dim=(1, 2))
    return reduced, torch.clamp(residual, min=0).float()


def _temporal(kind: str, dim: int, n_heads: int) -> nn.Module:
    modules = {"none": lambda: nn.Identity(), "lstm": lambda: _LSTM(dim), "msa": lambda: _SelfAttention(dim, n_heads)}
    return modules[kind]()


class _AutoEncoder(nn.Module):
    def __init__(self, n_voxels: int, n_networks: int, temporal: str, n_heads: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_voxels, n_networks, bias=False)
        self.encoder_temporal = _temporal(temporal, n_networks, n_heads)
        self.decoder_temporal = _temporal(temporal, n_networks, n_heads)
        self.decoder = nn.Linear(n_networks, n_voxels, bias=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder_temporal(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_temporal(self.encode(x)))


@dataclass(frozen=True)
class TrainingHistory:
    """Loss per epoch.

    Attributes
    ----------
    train_loss, validation_loss : ndarray of shape (n_epochs,)
        Mean reconstruction MSE per epoch (validation is NaN without validation data).
    best_epoch : int
        Epoch (0-based) whose weights were kept: lowest validation loss, else the last.
    """

    train_loss: np.ndarray
    validation_loss: np.ndarray
    best_epoch: int

    def to_frame(self):  # noqa: ANN201 - pandas
        import pandas as pd

        return pd.DataFrame({"epoch": np.arange(1, len(self.train_loss) + 1), "train_loss": self.train_loss,
                             "validation_loss": self.validation_loss, "best": np.arange(len(self.train_loss)) == self.best_epoch})


class FBNEmbedding:
    """Learn K functional brain networks shared by all subjects (Sync-ACT fMRI embedding).

    Parameters
    ----------
    n_networks : int, default=64
        Number K of FBNs (the paper uses 64).
    temporal : {"msa", "lstm", "none"}, default="msa"
        Temporal module: multi-head self-attention (LT+MSA), two LSTM layers (LT+LSTM), or none (LT).
    n_heads : int, default=4
        Attention heads (must divide ``n_networks``).
    n_epochs : int, default=100
    learning_rate : float, default=0.01
    batch_size : int, default=16
        Runs (or segments) per optimisation step.
    sparsity : float, default=0.0
        Weight of an L1 penalty on the maps (0 reproduces the paper); see the module docstring.
    n_components : int or None, default=256
        Train in the span of the top ``n_components`` principal directions of the training runs (maps
        are ``basis @ encoder``); see the module docstring. None trains on all voxels directly.
    init : {"random", "pca"}, default="random"
        Start the encoder at the K leading principal directions of the training runs (and the decoder at
        their transpose), or at PyTorch's random initialisation. Needs ``n_components``.
    seed : int, default=0
    device : str, default="cpu"
    progress : bool, default=False

    Attributes
    ----------
    maps_ : ndarray of shape (n_networks, n_voxels)
        FBN spatial maps (rows of the encoder weight), each signed so its peak is positive.
    history_ : TrainingHistory
    """

    def __init__(
        self,
        n_networks: int = 64,
        *,
        temporal: str = "msa",
        n_heads: int = 4,
        n_epochs: int = 100,
        learning_rate: float = 0.01,
        batch_size: int = 16,
        sparsity: float = 0.0,
        n_components: int | None = 256,
        init: str = "random",
        seed: int = 0,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        self.n_networks = n_networks
        self.temporal = temporal
        self.n_heads = n_heads
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.sparsity = sparsity
        self.n_components = n_components
        self.init = init
        self.seed = seed
        self.device = device
        self.progress = progress

    def _check_params(self) -> None:
        check_positive("n_networks", self.n_networks, integer=True)
        check_choice("temporal", self.temporal, TEMPORAL_MODULES)
        check_positive("n_epochs", self.n_epochs, integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("sparsity", self.sparsity, allow_zero=True)
        check_choice("init", self.init, ("pca", "random"))
        if self.temporal == "msa" and self.n_networks % self.n_heads:
            raise ConfigError(f"n_networks={self.n_networks} must be a multiple of n_heads={self.n_heads} for temporal='msa'.")

    @staticmethod
    def _stack(runs: Sequence[np.ndarray], name: str) -> torch.Tensor:
        if len(runs) == 0:
            raise ShapeError(f"{name} holds no run.")
        shapes = {np.shape(r) for r in runs}
        if any(len(s) != 2 for s in shapes):
            raise ShapeError(f"every run in {name} must be a (time, voxel) matrix; got shapes {sorted(shapes)}.")
        if len(shapes) > 1:
            raise ShapeError(
                f"runs in {name} differ in shape {sorted(shapes)}; cut them into segments of one length "
                "(the paper cut StudyForrest into 430-TR segments) or pass runs of equal length."
            )
        return torch.from_numpy(np.stack([np.asarray(r, dtype=np.float32) for r in runs]))

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None) -> FBNEmbedding:
        """Train on runs of the training subjects.

        Parameters
        ----------
        runs : sequence of ndarray of shape (n_timepoints, n_voxels)
            Voxel-wise z-scored runs (all the same shape).
        validation : sequence of ndarray of shape (n_timepoints, n_voxels), optional
            Runs of the validation subjects; the epoch with the lowest validation loss is kept.

        Returns
        -------
        self
        """
        self._check_params()
        data = self._stack(runs, "runs")
        val = self._stack(validation, "validation") if validation else None
        n, n_timepoints, n_voxels = data.shape
        if val is not None and val.shape[2] != n_voxels:
            raise ShapeError(f"validation runs have {val.shape[2]} voxels but training runs have {n_voxels}.")
        device = torch.device(self.device)
        basis = self._basis(data)  # (V, r) orthonormal, or None
        if basis is not None:
            reduced, residual = _project(data, basis)
            val_reduced, val_residual = _project(val, basis) if val is not None else (None, None)
        else:
            reduced, residual = data, torch.zeros(n)
            val_reduced, val_residual = val, (torch.zeros(val.shape[0]) if val is not None else None)
        scale = float(n_timepoints * n_voxels)  # losses are reported as the MSE over all voxels
        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = _AutoEncoder(reduced.shape[2], self.n_networks, self.temporal, self.n_heads)
            if self.init == "pca" and basis is not None:
                # Start from the K leading principal directions (the basis is sorted by variance).
                with torch.no_grad():
                    eye = torch.eye(self.n_networks, reduced.shape[2])
                    model.encoder.weight.copy_(eye)
                    model.decoder.weight.copy_(eye.T)
            model = model.to(device)
        basis_d = basis.to(device) if basis is not None else None
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        train_loss, val_loss = [], []
        best_state, best_val = None, math.inf
        bar = tqdm(range(self.n_epochs), desc=f"FBN embedding ({self.temporal}, K={self.n_networks})", unit="epoch",
                   disable=not self.progress, leave=False)
        for _epoch in bar:
            model.train()
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = reduced[idx].to(device)
                sse = torch.sum((model(batch) - batch) ** 2) + residual[idx].sum().to(device)
                loss = sse / (scale * batch.shape[0])
                if self.sparsity:
                    maps = model.encoder.weight if basis_d is None else model.encoder.weight @ basis_d.T
                    loss = loss + self.sparsity * maps.abs().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(sse.detach())
            train_loss.append(total / (scale * n))
            if val_reduced is not None:
                current = self._loss(model, val_reduced, val_residual, scale, device)
                val_loss.append(current)
                if current < best_val:
                    best_val, best_state = current, copy.deepcopy(model.state_dict())
            else:
                val_loss.append(math.nan)
            bar.set_postfix(train=f"{train_loss[-1]:.4f}", val=f"{val_loss[-1]:.4f}")
        best_epoch = int(np.nanargmin(val_loss)) if val is not None else self.n_epochs - 1
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self._model = model.cpu()
        weights = model.encoder.weight.detach().cpu().double()  # (K, r)
        if basis is not None:
            weights = weights @ basis.double().T  # (K, V)
        weights = weights.numpy()
        peak = weights[np.arange(weights.shape[0]), np.abs(weights).argmax(axis=1)]
        self.signs_ = np.where(peak < 0, -1.0, 1.0)
        self.maps_ = weights * self.signs_[:, None]
        self.basis_ = basis
        self.history_ = TrainingHistory(np.array(train_loss), np.array(val_loss), best_epoch)
        self.n_voxels_ = n_voxels
        return self

    def _basis(self, data: torch.Tensor) -> torch.Tensor | None:
        """Orthonormal basis (V, r) of the top-r principal directions of the stacked training runs."""
        if self.n_components is None:
            return None
        flat = data.reshape(-1, data.shape[2])
        rank = min(flat.shape)
        r = min(int(self.n_components), rank)
        if r < self.n_networks:
            raise ConfigError(f"n_components={r} (limited by the data to {rank}) must be >= n_networks={self.n_networks}.")
        # Eigen-decomposition of the (time x time) Gram matrix: exact, and cheap while time << voxels.
        if flat.shape[0] <= flat.shape[1]:
            gram = (flat.double() @ flat.double().T)
            evals, evecs = torch.linalg.eigh(gram)
            top = torch.argsort(evals, descending=True)[:r]
            basis = flat.double().T @ (evecs[:, top] / torch.sqrt(torch.clamp(evals[top], min=1e-12)))
        else:
            _, _, vh = torch.linalg.svd(flat.double(), full_matrices=False)
            basis = vh[:r].T
        return basis.float().contiguous()

    def _loss(self, model: nn.Module, data: torch.Tensor, residual: torch.Tensor, scale: float, device: torch.device) -> float:
        model.eval()
        total = float(residual.sum())
        with torch.inference_mode():
            for start in range(0, data.shape[0], self.batch_size):
                batch = data[start : start + self.batch_size].to(device)
                total += float(torch.sum((model(batch) - batch) ** 2))
        return total / (scale * data.shape[0])

    def transform(self, run: np.ndarray) -> np.ndarray:
        """FBN temporal activations of one run.

        Parameters
        ----------
        run : ndarray of shape (n_timepoints, n_voxels)
            Voxel-wise z-scored run of any subject.

        Returns
        -------
        ndarray of shape (n_timepoints, n_networks)
            ``A = g(X W)``, signed consistently with ``maps_``.
        """
        if not hasattr(self, "maps_"):
            raise ConfigError("this FBNEmbedding is not fitted yet; call fit() first.")
        x = np.asarray(run, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_voxels_:
            raise ShapeError(f"run must have shape (n_timepoints, {self.n_voxels_}), got {x.shape}.")
        with torch.inference_mode():
            z = torch.from_numpy(x)
            if self.basis_ is not None:
                z = z @ self.basis_
            a = self._model.encode(z[None])[0].numpy().astype(np.float64)
        return a * self.signs_[None, :]

    def state_dict(self) -> dict[str, object]:
        """Everything ``transform`` needs, for ``torch.save``: network weights, subspace basis, signs, parameters."""
        if not hasattr(self, "maps_"):
            raise ConfigError("this FBNEmbedding is not fitted yet; call fit() first.")
        params = {k: getattr(self, k) for k in ("n_networks", "temporal", "n_heads", "n_components", "seed")}
        return {"network": self._model.state_dict(), "basis": self.basis_, "signs": torch.from_numpy(self.signs_),
                "n_voxels": self.n_voxels_, "params": params}
