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

The randomized passes are sums over runs, so they are map-reduce work: :func:`range_product` and
:func:`sketch_gram` take any share of the runs and return a small block (V x w, w x w), the blocks of all
shares are added, and :func:`orthonormal_range` / :func:`top_directions` finish each pass. The same pieces run
in one process (:func:`principal_subspace`), under DDP (``shard=(rank, world)``: each process reads its share
of the runs, the blocks are all-reduced) and as units of a plan (:func:`syncact.analysis.subspace_units`, one
unit per share and pass, on Dask).

Runs are any sequence of (time, voxel) arrays: a list in memory, or a lazy view of a prepared store
(:meth:`syncact.brain.PreparedStore.runset`) that reads one run per access.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

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


EXACT_MAX_ROWS = 2400
"""Rows up to which the exact decomposition is used. Placed where the exact Gram path and the randomized one cost the
same on the embedded dataset (29,398 voxels, r = 256, one process; record subspace-20261202-220925.json: 2,400 rows
4.7 s / 5.0 s); the randomized path has since become faster there (subspace-20261203-052835.json: 4.9 s / 3.8 s;
4,800 rows 28.7 s / 6.9 s) and the threshold stays, so that the demos keep their exact basis
(benchmarks/bench_subspace.py, docs/distributed.md)."""


def _as_tensor(run: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(run, dtype=np.float32))


def principal_subspace(
    runs: Sequence[np.ndarray],
    n_components: int,
    *,
    exact_max_rows: int = EXACT_MAX_ROWS,
    n_iter: int = 3,
    oversample: int = 32,
    seed: int = 0,
    progress: bool = False,
    shard: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Orthonormal basis of the top principal directions of the stacked runs (no centring).

    Parameters
    ----------
    runs : sequence of ndarray of shape (n_timepoints_i, n_voxels)
    n_components : int
        Number r of directions (limited to the data rank).
    exact_max_rows : int, default=EXACT_MAX_ROWS (2400)
        Use the exact Gram eigen-decomposition while the total number of rows is at most this (above it the
        randomized passes are faster, measured, and hold the same planted networks).
    n_iter, oversample : int, default=3, 32
        Power iterations and extra directions of the randomized algorithm.
    seed : int, default=0
    progress : bool, default=False
    shard : (rank, world_size), optional
        Under DDP: this process reads runs ``rank::world_size`` in the randomized passes and their blocks are
        all-reduced, so every process gets the same basis for 1 / world_size of the reading (the exact
        decomposition, for few rows, is computed by every process).

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
    mine = list(range(len(runs)))[shard[0]::shard[1]] if shard else range(len(runs))
    bar = tqdm(total=(n_iter + 2) * len(mine), desc="principal subspace", unit="run", disable=bar_disabled(progress),
               leave=False)
    q = sketch(n_voxels, width, seed)
    for _ in range(n_iter + 1):  # Y = (X^T X) Q, then re-orthonormalise
        q = orthonormal_range(_all_reduce(range_product((runs[i] for i in mine), q, bar), shard))
    gram = _all_reduce(sketch_gram((runs[i] for i in mine), q, bar), shard)
    bar.close()
    return top_directions(q, gram, r)


def sketch(n_voxels: int, width: int, seed: int) -> torch.Tensor:
    """The Gaussian test matrix of the randomized range finder: (n_voxels, width), float64, from ``seed``."""
    return torch.randn(n_voxels, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def range_product(runs: Iterable[np.ndarray], q: torch.Tensor, bar: tqdm | None = None) -> torch.Tensor:
    """``sum_i X_i^T (X_i Q)`` over a share of the runs: one power-iteration pass's block, (n_voxels, width), float64.

    Each run's product is added by the matrix product itself (``addmm``, float32): a separate product and a
    float64 sum per run made a share 1.6x slower (memory passes and page faults), for a relative difference of
    ~3e-7 in a block that only spans the next range (shares are added in float64)."""
    q32 = torch.as_tensor(q).float()
    y = torch.zeros(q32.shape)
    for x in runs:
        xt = _as_tensor(x)
        y.addmm_(xt.T, xt @ q32)
        if bar is not None:
            bar.update()
    return y.double()


def sketch_gram(runs: Iterable[np.ndarray], q: torch.Tensor, bar: tqdm | None = None) -> torch.Tensor:
    """``sum_i (X_i Q)^T (X_i Q)`` over a share of the runs: the last pass's block, (width, width), float64."""
    q32 = torch.as_tensor(q).float()
    small = torch.zeros(q32.shape[1], q32.shape[1], dtype=torch.float64)
    for x in runs:
        z = (_as_tensor(x) @ q32).double()
        small += z.T @ z
        if bar is not None:
            bar.update()
    return small


def orthonormal_range(total: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of a pass's summed block (QR), the next pass's ``Q``: (n_voxels, width), float64."""
    return torch.linalg.qr(torch.as_tensor(total, dtype=torch.float64))[0]


def top_directions(q: torch.Tensor, gram: torch.Tensor, n_components: int) -> torch.Tensor:
    """The ``n_components`` principal directions within ``span(Q)`` from the summed Gram of ``X Q``: (n_voxels, r),
    float32, sorted by decreasing variance."""
    evals, evecs = torch.linalg.eigh(torch.as_tensor(gram, dtype=torch.float64))
    top = torch.argsort(evals, descending=True)[:n_components]
    return (torch.as_tensor(q, dtype=torch.float64) @ evecs[:, top]).float().contiguous()


def _all_reduce(block: torch.Tensor, shard: tuple[int, int] | None) -> torch.Tensor:
    """A block summed over the DDP processes (itself without a shard)."""
    if shard is None or shard[1] == 1:
        return block
    if torch.distributed.get_backend() == "nccl":  # NCCL reduces tensors on the process's GPU
        moved = block.cuda()
        torch.distributed.all_reduce(moved)
        return moved.cpu()
    torch.distributed.all_reduce(block)
    return block


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
