"""The Sync-ACT encoder-decoder as torch modules: a shared linear voxel -> K encoder, a temporal module
(none, two stacked LSTMs, or multi-head self-attention with a residual), and the mirrored decoder."""

from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention over time with a residual connection: A = Z + MHA(Z, Z, Z)."""

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, n_heads, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.attention(z, z, z, need_weights=False)
        return z + out


class StackedLSTM(nn.Module):
    """Two stacked LSTM layers (tanh) over time, K -> K."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers=2, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lstm(z)[0]


def temporal_module(kind: str, dim: int, n_heads: int) -> nn.Module:
    modules = {"none": lambda: nn.Identity(), "lstm": lambda: StackedLSTM(dim), "msa": lambda: SelfAttention(dim, n_heads)}
    return modules[kind]()


def run_energy(x: torch.Tensor) -> torch.Tensor:
    """``||x||^2`` of a (T, V) run: float32 dot products per row (no temporary), summed in float64."""
    return torch.einsum("tv,tv->t", x, x).double().sum()


class AutoEncoder(nn.Module):
    def __init__(self, n_voxels: int, n_networks: int, temporal: str, n_heads: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_voxels, n_networks, bias=False)
        self.encoder_temporal = temporal_module(temporal, n_networks, n_heads)
        self.decoder_temporal = temporal_module(temporal, n_networks, n_heads)
        self.decoder = nn.Linear(n_networks, n_voxels, bias=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder_temporal(self.encoder(x))

    def forward(self, x: torch.Tensor | list[torch.Tensor], expanded: bool = False) -> torch.Tensor:
        """The reconstruction of ``x`` (batch, T, width), or with ``expanded`` the summed squared error of the
        runs ``x`` (a list of (T, V)) by :meth:`expanded_sse`; both go through ``forward`` so DDP can wrap them."""
        if expanded:
            return self.expanded_sse(x)
        return self.decoder(self.decoder_temporal(self.encode(x)))

    def expanded_sse(self, runs: list[torch.Tensor]) -> torch.Tensor:
        """``sum_i ||X_i - forward(X_i)||^2`` without forming any reconstruction.

        The decoder's last step is linear, ``X_hat = H D^T`` with ``H`` (T x K) and ``D`` (V x K), so
        ``||X - X_hat||^2 = ||X||^2 - 2 <H, X D> + <H^T H, D^T D>``: besides ``Z = X W`` it needs only
        ``X D`` (T x K), and autograd's backward only ``X^T dZ`` and ``(dP)^T X``. Four (T x V x K)
        products per run and no (T x V) temporary, against the floor of two products (``X W`` and
        ``Z D^T``) of the direct form, which also materialises the reconstruction and its gradient.
        """
        d = self.decoder.weight  # (V, K)
        z = torch.stack([self.encoder(x) for x in runs])  # (B, T, K)
        p = torch.stack([x @ d for x in runs])  # (B, T, K)
        h = self.decoder_temporal(self.encoder_temporal(z))
        energy = sum(run_energy(x) for x in runs)
        cross = (h.float() * p.float()).sum(dtype=torch.float64)
        gram = d.float().T @ d.float()
        power = ((h.float().transpose(1, 2) @ h.float()) * gram).sum(dtype=torch.float64)
        return (energy - 2 * cross + power).float()
