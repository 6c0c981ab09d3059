"""The embedding's principal subspace as units of a plan: one unit per share of the runs and pass, on any executor.

The randomized range finder (:func:`syncact.networks.subspace.principal_subspace`) makes ``n_iter + 2`` passes
over the training runs, each a sum over runs. Here every pass is a fan-out of ``n_shares`` units, each reading
its share of the runs (``runs[j::n_shares]``) and returning one small block (n_voxels x width, or width x width),
and a reduce unit that adds the blocks and orthonormalises them; the next pass depends on it. On a Dask cluster
the shares of a pass read and multiply side by side. The number of shares is fixed by the plan, not by the
workers, so a run gives the same basis on any executor (the sums' order, hence the rounding, is the plan's).

While the stacked runs have at most ``exact_max_rows`` rows the exact decomposition is one unit
(:func:`~syncact.analysis.comparison.shared_subspace`), as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from syncact.analysis.comparison import shared_subspace
from syncact.networks.subspace import (
    EXACT_MAX_ROWS,
    orthonormal_range,
    range_product,
    run_shapes,
    sketch,
    sketch_gram,
    top_directions,
)
from syncact.units import Dep, Plan

N_SHARES = 4
"""Shares of the runs per randomized pass (units that can run side by side)."""


def share_of(runs: Sequence[np.ndarray], index: int, n_shares: int) -> Sequence[np.ndarray]:
    """Runs ``index::n_shares``: a lazy store view stays lazy (:meth:`syncact.brain.StoreRuns.shard`)."""
    return runs.shard(index, n_shares) if hasattr(runs, "shard") else list(runs)[index::n_shares]


def range_share(runs: Sequence[np.ndarray], q: np.ndarray | None, width: int, seed: int) -> np.ndarray:
    """One share's block of a power-iteration pass, ``sum X^T (X Q)``
    (:func:`~syncact.networks.subspace.range_product`); the first pass starts from the Gaussian sketch of ``seed``. Returns (n_voxels, width) as float32: the block only spans the next
    range, and half the bytes travel between workers."""
    start = sketch(run_shapes(runs)[0][1], width, seed) if q is None else torch.from_numpy(np.asarray(q))
    return range_product(runs, start).numpy().astype(np.float32)


def reduce_range(**blocks: np.ndarray) -> np.ndarray:
    """The pass's blocks added in float64 (in the order of their names) and orthonormalised: the next ``Q`` as
    float32, the precision the products use it in (:func:`~syncact.networks.subspace.range_product`)."""
    names = sorted(blocks)
    total = np.array(blocks[names[0]], dtype=np.float64)
    for name in names[1:]:
        total += blocks[name]  # in place: a float64 temporary per block cost 4x the additions (page faults)
    return orthonormal_range(torch.from_numpy(total)).numpy().astype(np.float32)


def gram_share(runs: Sequence[np.ndarray], q: np.ndarray) -> np.ndarray:
    """One share's block of the last pass, ``sum (X Q)^T (X Q)``: (width, width), float64."""
    return sketch_gram(runs, torch.from_numpy(np.asarray(q))).numpy()


def finish_subspace(q: np.ndarray, n_components: int, **grams: np.ndarray) -> dict[str, np.ndarray]:
    """The top ``n_components`` directions from the summed Gram blocks: ``{"basis": (n_voxels, r) float32}``, the
    result :func:`~syncact.analysis.comparison.shared_subspace` gives."""
    gram = sum(np.asarray(grams[name], dtype=np.float64) for name in sorted(grams))
    return {"basis": top_directions(torch.from_numpy(np.asarray(q)), torch.from_numpy(gram), n_components).numpy()}


def subspace_units(plan: Plan, name: str, train: Sequence[np.ndarray], n_components: int, *, seed: int = 0,
                   n_shares: int = N_SHARES, exact_max_rows: int = EXACT_MAX_ROWS, n_iter: int = 3, oversample: int = 32,
                   progress: bool = False, priority: int = 0) -> Dep:
    """Add the units that compute the principal subspace of ``train`` to ``plan``; returns the final unit's Dep.

    Parameters
    ----------
    plan : Plan
    name : str
        Name of the final unit (its result: ``{"basis": ...}``); the passes are named ``<name>/pass-<i>/share-<j>``.
    train : sequence of ndarray of shape (n_timepoints_i, n_voxels)
        The training runs (a lazy store view: each share reads only its runs).
    n_components : int
    seed : int, default=0
    n_shares : int, default=4
        Units per pass.
    exact_max_rows, n_iter, oversample
        As :func:`syncact.networks.subspace.principal_subspace`, whose basis this equals up to the order of sums.
    progress : bool, default=False
        The exact unit's bar.
    priority : int, default=0
        Of every unit added (:meth:`~syncact.units.Plan.add`).

    Returns
    -------
    Dep
    """
    shapes = run_shapes(train)
    n_rows, n_voxels = sum(s[0] for s in shapes), shapes[0][1]
    if n_rows <= exact_max_rows:
        return plan.add(name, shared_subspace, train=train, n_components=n_components, seed=seed,
                        settings={"progress": progress}, priority=priority)
    r = min(int(n_components), n_rows, n_voxels)
    width = min(r + oversample, n_voxels)
    shares = [share_of(train, j, n_shares) for j in range(min(n_shares, len(train)))]
    q: Dep | None = None
    for i in range(n_iter + 1):
        blocks = {f"share{j}": plan.add(f"{name}/pass-{i}/share-{j}", range_share, runs=share, q=q, width=width, seed=seed,
                                               priority=priority)
                  for j, share in enumerate(shares)}
        q = plan.add(f"{name}/pass-{i}", reduce_range, priority=priority, **blocks)
    grams = {f"share{j}": plan.add(f"{name}/gram/share-{j}", gram_share, runs=share, q=q, priority=priority)
             for j, share in enumerate(shares)}
    return plan.add(name, finish_subspace, q=q, n_components=r, priority=priority, **grams)
