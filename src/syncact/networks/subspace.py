"""Principal subspace of many runs, computed run by run, and the projection of runs onto it.

The embedding trains in the span of the top ``r`` principal directions of the stacked training runs
(see :mod:`syncact.networks.embedding`). Two ways to get them:

* exact: eigen-decomposition of the (rows x rows) Gram matrix of the stacked runs, while the rows fit
  (``exact_max_rows``); all runs are read into memory once.
* randomized (Halko, Martinsson & Tropp 2011, algorithm 4.4 with power iterations): passes over the
  runs, each holding one run and a (voxel x (r + oversample)) matrix, so memory does not grow with the
  number of subjects. ``n_iter`` power iterations make the top directions accurate to the precision
  the training needs; the last of the ``r`` directions, where the spectrum is flat, are the least exact,
  which is also where they matter least (they carry the least variance).

Runs are any sequence of (time, voxel) arrays: a list in memory, or a lazy view of a prepared store
(:meth:`syncact.brain.PreparedStore.runset`) that reads one run per access.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact.exceptions import ConfigError, ShapeError


def run_shapes(runs: Sequence[np.ndarray], name: str = "runs") -> list[tuple[int, int]]:
    """Shapes of the runs without reading lazy ones (they expose ``shapes``); checks every run is 2D."""
    if len(runs) == 0:
        raise ShapeError(f"{name} holds no run.")
    shapes = list(getattr(runs, "shapes", None) or [tuple(np.shape(r)) for r in runs])
    bad = sorted({s for s in shapes if len(s) != 2})
    if bad:
        raise ShapeError(f"every run in {name} must be a (time, voxel) matrix; got shapes {bad}.")
    voxels = sorted({s[1] for s in shapes})
    if len(voxels) > 1:
        raise ShapeError(f"runs in {name} have different numbers of voxels {voxels}; prepare them on one grid and mask.")
    return shapes


def _as_tensor(run: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(run, dtype=np.float32))


def principal_subspace(
    runs: Sequence[np.ndarray],
    n_components: int,
    *,
    exact_max_rows: int = 8192,
    n_iter: int = 3,
    oversample: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> torch.Tensor:
    """Orthonormal basis of the top principal directions of the stacked runs (no centring).

    Parameters
    ----------
    runs : sequence of ndarray of shape (n_timepoints_i, n_voxels)
    n_components : int
        Number r of directions (limited to the data rank).
    exact_max_rows : int, default=8192
        Use the exact Gram eigen-decomposition while the total number of rows is at most this.
    n_iter, oversample : int, default=3, 32
        Power iterations and extra directions of the randomized algorithm.
    seed : int, default=0
    progress : bool, default=False

    Returns
    -------
    Tensor of shape (n_voxels, r), float32, columns sorted by decreasing variance.
    """
    shapes = run_shapes(runs)
    n_rows, n_voxels = sum(s[0] for s in shapes), shapes[0][1]
    r = min(int(n_components), n_rows, n_voxels)
    if n_rows <= exact_max_rows:
        flat = torch.cat([_as_tensor(x) for x in runs]).double()
        if flat.shape[0] <= flat.shape[1]:
            evals, evecs = torch.linalg.eigh(flat @ flat.T)
            top = torch.argsort(evals, descending=True)[:r]
            basis = flat.T @ (evecs[:, top] / torch.sqrt(torch.clamp(evals[top], min=1e-12)))
        else:
            basis = torch.linalg.svd(flat, full_matrices=False)[2][:r].T
        return basis.float().contiguous()
    width = min(r + oversample, n_voxels)
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(n_voxels, width, generator=generator, dtype=torch.float64)
    bar = tqdm(total=(n_iter + 2) * len(runs), desc="principal subspace", unit="run", disable=bar_disabled(progress), leave=False)
    for _ in range(n_iter + 1):  # Y = (X^T X) Q, then re-orthonormalise
        y = torch.zeros(n_voxels, width, dtype=torch.float64)
        q32 = q.float()
        for x in runs:
            xt = _as_tensor(x)
            y += (xt.T @ (xt @ q32)).double()
            bar.update()
        q = torch.linalg.qr(y)[0]
    small = torch.zeros(width, width, dtype=torch.float64)
    q32 = q.float()
    for x in runs:
        z = (_as_tensor(x) @ q32).double()
        small += z.T @ z
        bar.update()
    bar.close()
    evals, evecs = torch.linalg.eigh(small)
    top = torch.argsort(evals, descending=True)[:r]
    return (q @ evecs[:, top]).float().contiguous()


def project_runs(runs: Sequence[np.ndarray], basis: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates of equal-length runs in ``basis`` and the energy each run has outside it.

    Parameters
    ----------
    runs : sequence of ndarray of shape (n_timepoints, n_voxels)
    basis : Tensor of shape (n_voxels, r), or None to keep the voxels

    Returns
    -------
    reduced : Tensor of shape (n_runs, n_timepoints, r)
    residual : Tensor of shape (n_runs,)
        Sum of squares outside the span (0 without a basis), float64.
    """
    reduced, residual = [], []
    for x in runs:
        xt = _as_tensor(x)
        if basis is None:
            reduced.append(xt)
            residual.append(torch.zeros((), dtype=torch.float64))
            continue
        z = xt @ basis
        residual.append(torch.clamp((xt.double() ** 2).sum() - (z.double() ** 2).sum(), min=0))
        reduced.append(z)
    check_equal_lengths([z.shape[0] for z in reduced])
    return torch.stack(reduced), torch.stack(residual)


def check_equal_lengths(lengths: Sequence[int]) -> int:
    """The one length of all runs; runs of different lengths cannot be batched."""
    distinct = sorted(set(lengths))
    if len(distinct) > 1:
        raise ShapeError(
            f"runs differ in length {distinct}; cut them into segments of one length (segment_length; the paper "
            "cut StudyForrest into 430-TR segments) or pass runs of equal length."
        )
    return distinct[0]


def fingerprint(*tensors: torch.Tensor | None) -> str:
    """SHA-256 of tensors' shapes and bytes: identifies the data a checkpoint was trained on."""
    digest = hashlib.sha256()
    for t in tensors:
        if t is None:
            digest.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        digest.update(str((tuple(t.shape), str(t.dtype))).encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def check_rank(n_components: int | None, n_networks: int, shapes: list[tuple[int, int]]) -> None:
    """K must not exceed what the data can carry: voxels, training time points, and the subspace."""
    n_rows, n_voxels = sum(s[0] for s in shapes), shapes[0][1]
    if n_networks > n_voxels:
        raise ConfigError(f"n_networks={n_networks} exceeds the number of voxels ({n_voxels}); choose K <= {n_voxels}.")
    if n_networks > n_rows:
        raise ConfigError(f"n_networks={n_networks} exceeds the number of training time points ({n_rows} over "
                          f"{len(shapes)} runs): the maps would not be determined. Choose K <= {n_rows} or add subjects.")
    if n_components is not None:
        rank = min(n_rows, n_voxels)
        if min(n_components, rank) < n_networks:
            raise ConfigError(f"n_components={n_components} (limited by the data to {rank}) must be >= "
                              f"n_networks={n_networks}.")
