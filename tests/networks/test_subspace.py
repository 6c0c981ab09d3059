"""The principal subspace: randomized against exact, and its passes as map-reduce work (shares, DDP, plan units)."""

import textwrap

import numpy as np
import pytest

from syncact.analysis import subspace_units
from syncact.networks.subspace import principal_subspace, range_product, sketch, sketch_gram
from syncact.units import Plan, run_plan


def _runs(rng, n_runs=10, n_t=60, n_v=300, rank=12):
    """Low-rank runs (a decaying spectrum of ``rank`` directions) plus noise, z-scored per voxel."""
    directions = np.linalg.qr(rng.normal(size=(n_v, rank)))[0].T * np.geomspace(12, 2, rank)[:, None]
    runs = []
    for _ in range(n_runs):
        x = rng.normal(size=(n_t, rank)) @ directions + rng.normal(size=(n_t, n_v))
        runs.append(((x - x.mean(0)) / x.std(0)).astype(np.float32))
    return runs


def _max_angle_deg(a, b):
    """Largest principal angle between the column spans of a and b, in degrees."""
    qa, qb = np.linalg.qr(np.asarray(a, dtype=np.float64))[0], np.linalg.qr(np.asarray(b, dtype=np.float64))[0]
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1)
    return float(np.degrees(np.arccos(cosines.min())))


def test_randomized_subspace_finds_the_exact_one(rng):
    runs = _runs(rng)
    exact = principal_subspace(runs, 8).numpy()
    randomized = principal_subspace(runs, 8, exact_max_rows=0, seed=1).numpy()
    assert _max_angle_deg(exact, randomized) < 1.0
    np.testing.assert_allclose(randomized.T @ randomized, np.eye(8), atol=1e-5)


def test_a_pass_is_the_sum_of_its_shares(rng):
    runs = _runs(rng, n_runs=7)
    q = sketch(300, 20, seed=0)
    whole = range_product(runs, q)
    shares = sum(range_product(runs[j::3], q) for j in range(3))
    # runs are added in float32 within a share (by the product itself), shares in float64
    scale = np.abs(whole.numpy()).max()
    np.testing.assert_allclose(shares.numpy(), whole.numpy(), rtol=0, atol=1e-6 * scale)
    exact = sum(runs[i].T.astype(np.float64) @ (runs[i].astype(np.float64) @ q.numpy()) for i in range(len(runs)))
    np.testing.assert_allclose(whole.numpy(), exact, rtol=0, atol=1e-6 * scale)
    gram = sum(sketch_gram(runs[j::2], q) for j in range(2))
    np.testing.assert_allclose(gram.numpy(), sketch_gram(runs, q).numpy(), rtol=1e-10)


@pytest.mark.parametrize(("exact_max_rows", "n_shares"), [(0, 4), (0, 3), (10**6, 4)])
def test_plan_units_give_the_in_process_subspace(rng, tmp_path, exact_max_rows, n_shares):
    """One unit per share and pass (randomized), or one exact unit: the basis principal_subspace gives."""
    runs = _runs(rng, n_runs=9)
    plan = Plan()
    final = subspace_units(plan, "subspace/r8", runs, 8, seed=2, n_shares=n_shares, exact_max_rows=exact_max_rows)
    # 4 passes of n shares + a reduce each, n Gram shares, the finish
    expected = 1 if exact_max_rows else 4 * (n_shares + 1) + n_shares + 1
    assert len(plan) == expected
    basis = run_plan(plan, tmp_path / "units", progress=False)[final.name]["basis"]
    direct = principal_subspace(runs, 8, seed=2, exact_max_rows=exact_max_rows).numpy()
    assert basis.shape == (300, 8) and basis.dtype == np.float32
    np.testing.assert_allclose(np.abs(basis.T @ direct), np.eye(8), atol=1e-4)  # same directions, up to sign


DDP_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from syncact.networks import init_distributed
    from syncact.networks.subspace import principal_subspace

    torch.set_num_threads(1)
    rank, world, device = init_distributed()
    data = np.load(sys.argv[1])
    runs = [data[f"run{i}"] for i in range(int(data["n_runs"]))]
    basis = principal_subspace(runs, 8, exact_max_rows=0, seed=4, shard=(rank, world))
    np.save(sys.argv[2] + f"/basis-{rank}.npy", basis.numpy())
    torch.distributed.destroy_process_group()  # else gloo's threads can abort the interpreter's exit
""")


def test_ddp_processes_share_the_runs_and_agree_on_the_basis(rng, tmp_path, torchrun):
    """torchrun, 2 CPU processes: each reads half the runs, the blocks are all-reduced, and both get the basis one
    process computes from all the runs (up to the order of the sums)."""
    runs = _runs(rng, n_runs=7)
    np.savez(tmp_path / "data.npz", n_runs=len(runs), **{f"run{i}": r for i, r in enumerate(runs)})
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    torchrun(tmp_path / "ddp.py", tmp_path / "data.npz", tmp_path, port=31500 + int(rng.integers(0, 2000)))
    first, second = (np.load(tmp_path / f"basis-{rank}.npy") for rank in (0, 1))
    np.testing.assert_array_equal(first, second)
    one = principal_subspace(runs, 8, exact_max_rows=0, seed=4).numpy()
    np.testing.assert_allclose(np.abs(first.T @ one), np.eye(8), atol=1e-4)
