import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from syncact.exceptions import ConfigError, CorruptFileError, ShapeError, UnknownNameError
from syncact.networks import FBNEmbedding, split_subjects
from syncact.networks.subspace import principal_subspace


def test_split_is_seeded_and_partitions():
    subjects = [f"{i:02d}" for i in range(10)]
    a = split_subjects(subjects, seed=1)
    assert a == split_subjects(subjects, seed=1)
    assert [len(a[g]) for g in ("train", "validation", "test")] == [6, 1, 3]
    assert sorted(sum(a.values(), [])) == subjects
    with pytest.raises(ConfigError, match="at least 3 subjects"):
        split_subjects(["a", "b"])


def _planted(rng, n_runs=8, n_t=120, n_v=600, k=3):
    """Runs made of k localized networks with distinct time courses plus noise."""
    maps = np.zeros((k, n_v))
    for i in range(k):
        maps[i, i * 150 : i * 150 + 100] = 1.0
    runs, tcs = [], []
    for _ in range(n_runs):
        tc = rng.normal(size=(n_t, k))
        tc = np.apply_along_axis(lambda x: np.convolve(x, np.ones(4) / 4, mode="same"), 0, tc)
        x = tc @ (maps * np.array([3.0, 2.0, 1.5])[:, None]) + rng.normal(size=(n_t, n_v))
        runs.append(((x - x.mean(0)) / x.std(0)).astype(np.float32))
        tcs.append(tc)
    return runs, tcs, maps


@pytest.mark.parametrize("temporal", ["none", "msa"])
def test_embedding_recovers_planted_time_courses(rng, temporal):
    runs, tcs, _ = _planted(rng)
    emb = FBNEmbedding(4, temporal=temporal, n_heads=2, n_epochs=60, n_components=32, seed=0).fit(runs[:6], runs[6:7])
    a = emb.transform(runs[7])
    # The FBN activations of a held-out run carry every planted time course (multiple correlation):
    # the MSE objective fixes the subspace, not a rotation within it.
    design = np.hstack([a, np.ones((a.shape[0], 1))])
    fitted = design @ np.linalg.lstsq(design, tcs[7], rcond=None)[0]
    multiple_r = [np.corrcoef(fitted[:, i], tcs[7][:, i])[0, 1] for i in range(3)]
    assert min(multiple_r) > 0.8, multiple_r
    # and a planted network far stronger than the rest gets an FBN of its own
    r = np.abs(np.corrcoef(np.hstack([tcs[7], a]).T)[:3, 3:])
    assert r[0].max() > 0.8, r
    assert emb.maps_.shape == (4, 600)
    assert emb.history_.train_loss[-1] < emb.history_.train_loss[0]


def test_lstm_variant_trains(rng):
    """LT+LSTM runs and lowers the loss; its recovery is not yet validated (see the embedding issue)."""
    runs, _, _ = _planted(rng, n_runs=3)
    emb = FBNEmbedding(4, temporal="lstm", n_epochs=30, n_components=16, seed=0).fit(runs)
    assert emb.history_.train_loss[-1] < emb.history_.train_loss[0]
    assert emb.transform(runs[0]).shape == (120, 4)


def test_linear_embedding_maps_localise_planted_networks(rng):
    runs, _, maps = _planted(rng)
    emb = FBNEmbedding(3, temporal="none", n_epochs=100, n_components=32, seed=0).fit(runs[:6], runs[6:7])
    r = np.corrcoef(np.vstack([maps, emb.maps_]))[:3, 3:]
    assert r.max(axis=1).min() > 0.5, r


def test_seeded_training_is_deterministic(rng):
    runs, _, _ = _planted(rng, n_runs=3)
    a = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=5, n_components=16, seed=7).fit(runs)
    b = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=5, n_components=16, seed=7).fit(runs)
    np.testing.assert_array_equal(a.maps_, b.maps_)
    assert np.all(a.maps_[np.arange(4), np.abs(a.maps_).argmax(axis=1)] > 0)  # peaks are positive


def test_bad_parameters_and_shapes(rng):
    runs = [rng.normal(size=(20, 30)).astype(np.float32) for _ in range(2)]
    with pytest.raises(ConfigError, match="multiple of n_heads"):
        FBNEmbedding(5, temporal="msa", n_heads=4).fit(runs)
    with pytest.raises(ShapeError, match="differ in length"):
        FBNEmbedding(4, n_epochs=1).fit([runs[0], runs[1][:10]])
    with pytest.raises(ConfigError, match="not fitted"):
        FBNEmbedding(4).transform(runs[0])
    emb = FBNEmbedding(4, n_epochs=1, n_components=8).fit(runs)
    with pytest.raises(ShapeError, match=r"\(n_timepoints, 30\)"):
        emb.transform(runs[0][:, :10])


def test_state_dict_saves_what_transform_needs(rng, tmp_path):
    runs, _, _ = _planted(rng, n_runs=2)
    emb = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=2, n_components=16, seed=0).fit(runs)
    torch.save(emb.state_dict(), tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert state["basis"].shape == (600, 16) and state["params"]["temporal"] == "msa"
    np.testing.assert_array_equal(state["signs"].numpy(), emb.signs_)


def test_save_and_load_transform_new_subjects_identically(rng, tmp_path):
    runs, _, _ = _planted(rng, n_runs=3)
    emb = FBNEmbedding(4, temporal="lstm", n_epochs=2, n_components=16, seed=0).fit(runs[:2])
    loaded = FBNEmbedding.load(emb.save(tmp_path / "model.pt"))
    np.testing.assert_array_equal(loaded.transform(runs[2]), emb.transform(runs[2]))
    np.testing.assert_allclose(loaded.maps_, emb.maps_)
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(CorruptFileError, match="bad.pt"):
        FBNEmbedding.load(tmp_path / "bad.pt")


_TRAIN_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from syncact.networks import FBNEmbedding
    data = np.load(sys.argv[1])
    runs = [data[f"r{i}"] for i in range(6)]
    kill_after = int(sys.argv[3])
    if kill_after:
        save = FBNEmbedding._save
        def save_then_die(self, path, identity, state, *args):
            save(self, path, identity, state, *args)
            if state["epoch"] == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        FBNEmbedding._save = save_then_die
    emb = FBNEmbedding(4, temporal="lstm", n_epochs=8, batch_size=2, n_components=16, lr_schedule="plateau",
                       checkpoint_dir=sys.argv[2], resume=True, seed=3).fit(runs[:4], runs[4:])
    np.save(sys.argv[4], emb.maps_)
    np.save(sys.argv[4].replace(".npy", "_loss.npy"), emb.history_.train_loss)
""")


def test_resume_after_sigkill_ends_with_identical_weights(rng, tmp_path):
    """A run killed with SIGKILL after epoch 3 and resumed equals an uninterrupted run, bit for bit."""
    runs, _, _ = _planted(rng, n_runs=6, n_t=40, n_v=200)
    np.savez(tmp_path / "runs.npz", **{f"r{i}": r for i, r in enumerate(runs)})
    script = tmp_path / "train.py"
    script.write_text(_TRAIN_SCRIPT)

    def train(ckpt, kill_after, out):
        return subprocess.run([sys.executable, str(script), str(tmp_path / "runs.npz"), str(tmp_path / ckpt),
                               str(kill_after), str(tmp_path / out)], capture_output=True, text=True, timeout=300)

    assert train("whole", 0, "whole.npy").returncode == 0
    killed = train("killed", 3, "never.npy")
    assert killed.returncode == -9 and not (tmp_path / "never.npy").exists()
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["state"]["epoch"] == 3
    resumed = train("killed", 0, "resumed.npy")
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "whole.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "resumed_loss.npy"), np.load(tmp_path / "whole_loss.npy"))


def test_a_checkpoint_of_another_configuration_or_data_is_refused(rng, tmp_path):
    runs, _, _ = _planted(rng, n_runs=3, n_t=40, n_v=200)
    FBNEmbedding(4, temporal="none", n_epochs=2, n_components=16, checkpoint_dir=tmp_path).fit(runs)
    with pytest.raises(ConfigError, match=r"another configuration \(n_networks: checkpoint 4 vs now 6"):
        FBNEmbedding(6, temporal="none", n_epochs=2, n_components=16, checkpoint_dir=tmp_path, resume=True).fit(runs)
    with pytest.raises(ConfigError, match="other data"):
        FBNEmbedding(4, temporal="none", n_epochs=2, n_components=16, checkpoint_dir=tmp_path, resume=True).fit(runs[:2])
    # a finished checkpoint resumes to the same result without training again
    a = FBNEmbedding(4, temporal="none", n_epochs=2, n_components=16, checkpoint_dir=tmp_path, resume=True).fit(runs)
    b = FBNEmbedding(4, temporal="none", n_epochs=2, n_components=16).fit(runs)
    np.testing.assert_array_equal(a.maps_, b.maps_)
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(CorruptFileError, match="checkpoint.pt.*delete it"):
        FBNEmbedding(4, temporal="none", n_epochs=2, n_components=16, checkpoint_dir=tmp_path, resume=True).fit(runs)


def test_early_stopping_keeps_the_best_epoch(rng):
    runs, _, _ = _planted(rng, n_runs=4, n_t=40, n_v=200)
    noise = [rng.normal(size=(40, 200)).astype(np.float32) for _ in range(2)]  # nothing to learn for validation
    emb = FBNEmbedding(8, temporal="none", n_epochs=200, learning_rate=0.05, n_components=32, patience=3,
                       seed=0).fit(runs, noise)
    h = emb.history_
    assert h.stopped_early and len(h.train_loss) < 200
    assert h.best_epoch == len(h.train_loss) - 1 - 3 and h.validation_loss[h.best_epoch] == np.nanmin(h.validation_loss)
    with pytest.raises(ConfigError, match="patience .* needs validation"):
        FBNEmbedding(4, n_epochs=2, patience=2).fit(runs)


def test_cosine_schedule_and_bfloat16_on_cpu(rng):
    runs, _, _ = _planted(rng, n_runs=3, n_t=40, n_v=200)
    emb = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=10, n_components=16, lr_schedule="cosine",
                       precision="bfloat16").fit(runs)
    expected = 0.01 * (1 + np.cos(np.pi * np.arange(10) / 10)) / 2
    np.testing.assert_allclose(emb.history_.learning_rate, expected, rtol=1e-6)
    assert emb.history_.train_loss[-1] < emb.history_.train_loss[0]
    with pytest.raises(ConfigError, match="float16' needs a CUDA"):
        FBNEmbedding(4, n_epochs=1, precision="float16").fit(runs)


def test_k_larger_than_voxels_or_time_points_is_refused(rng):
    runs = [rng.normal(size=(20, 30)).astype(np.float32) for _ in range(2)]
    with pytest.raises(ConfigError, match="exceeds the number of voxels \\(30\\)"):
        FBNEmbedding(32, temporal="none", n_components=None).fit(runs)
    with pytest.raises(ConfigError, match="exceeds the number of training time points \\(10 over 2 runs"):
        FBNEmbedding(12, temporal="none", n_components=None).fit([r[:5] for r in runs])
    with pytest.raises(UnknownNameError, match="not-a-variant.*lstm"):
        FBNEmbedding(4, temporal="not-a-variant").fit(runs)


def test_randomized_subspace_matches_the_exact_one(rng):
    """Above ``exact_max_rows`` the subspace comes from passes over the runs; its top directions agree."""
    runs, _, _ = _planted(rng, n_runs=6, n_t=100, n_v=400, k=3)
    exact = principal_subspace(runs, 24).double()
    approx = principal_subspace(runs, 24, exact_max_rows=0, seed=1).double()
    cosines = torch.linalg.svdvals(exact[:, :3].T @ approx)  # the planted (signal) directions lie in its span
    assert cosines.min() > 0.999, cosines
    flat = np.vstack(runs).astype(np.float64)
    kept = lambda b: np.linalg.norm(flat @ b.numpy()) ** 2 / np.linalg.norm(flat) ** 2  # noqa: E731
    assert kept(approx) > 0.995 * kept(exact)


@pytest.mark.parametrize("temporal", ["none", "lstm", "msa"])
def test_expanded_loss_equals_the_direct_reconstruction_error(temporal):
    """The voxel formulation's loss without reconstructions: same value and gradients as ||X - X_hat||^2."""
    from syncact.networks.autoencoder import AutoEncoder

    torch.manual_seed(0)
    model = AutoEncoder(300, 8, temporal, 2)
    runs = [torch.randn(50, 300) for _ in range(3)]
    expanded = model.expanded_sse(runs)
    direct = ((model(torch.stack(runs)) - torch.stack(runs)) ** 2).sum()
    assert float(expanded) == pytest.approx(float(direct), rel=1e-5)
    params = list(model.parameters())
    for g_e, g_d in zip(torch.autograd.grad(expanded, params), torch.autograd.grad(direct, params), strict=True):
        torch.testing.assert_close(g_e, g_d, rtol=1e-4, atol=1e-4 * float(g_d.abs().max()))


DDP_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from syncact.networks import FBNEmbedding, init_distributed

    torch.set_num_threads(1)
    rank, world, device = init_distributed()
    data = np.load(sys.argv[1])
    runs = [data[f"run{i}"] for i in range(int(data["n_runs"]))]
    val = [data["val"]]
    for name, n_components in (("subspace", 12), ("voxels", None)):
        emb = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=4, batch_size=4, sparsity=0.01, n_components=n_components,
                           seed=3, device=device, distributed=True, checkpoint_dir=sys.argv[2] + "/" + name)
        emb.fit(runs, val)
        if rank == 0:
            np.savez(sys.argv[2] + f"/{name}.npz", maps=emb.maps_, train=emb.history_.train_loss,
                     val=emb.history_.validation_loss, world=world)
    torch.distributed.destroy_process_group()  # else gloo's threads can abort the interpreter's exit
""")


def test_ddp_on_two_processes_equals_one_process(rng, tmp_path, torchrun):
    """torchrun with 2 CPU processes (gloo): the same weights and losses as one process, both formulations.

    5 runs in batches of 4: the last batch has fewer runs than processes (one process steps with weight 0).
    """
    runs, _, _ = _planted(rng, n_runs=6, n_t=40, n_v=200, k=3)
    np.savez(tmp_path / "data.npz", n_runs=5, val=runs[5], **{f"run{i}": r for i, r in enumerate(runs[:5])})
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    torchrun(tmp_path / "ddp.py", tmp_path / "data.npz", tmp_path, port=29500 + int(rng.integers(0, 2000)))
    for name, n_components in (("subspace", 12), ("voxels", None)):
        ddp = np.load(tmp_path / f"{name}.npz")
        assert int(ddp["world"]) == 2
        one = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=4, batch_size=4, sparsity=0.01, n_components=n_components,
                           seed=3).fit(runs[:5], runs[5:])
        np.testing.assert_allclose(ddp["train"], one.history_.train_loss, rtol=1e-5)
        np.testing.assert_allclose(ddp["val"], one.history_.validation_loss, rtol=1e-5)
        np.testing.assert_allclose(ddp["maps"], one.maps_, atol=1e-5)
        assert (tmp_path / name / "checkpoint.pt").is_file()  # written by rank 0


def test_distributed_without_a_process_group_is_refused(rng):
    runs, _, _ = _planted(rng, n_runs=2, n_t=20, n_v=50)
    with pytest.raises(ConfigError, match="torchrun"):
        FBNEmbedding(2, temporal="none", n_epochs=1, n_components=None, distributed=True).fit(runs)


def test_a_given_subspace_basis_gives_the_fit_that_computes_it(rng):
    """The K sweep's shared subspace: passing the basis principal_subspace computes changes nothing; a wrong one is named."""
    runs, _, _ = _planted(rng, n_runs=4, n_t=40, n_v=120)
    settings = {"temporal": "none", "n_epochs": 3, "n_components": 16, "seed": 2}
    own = FBNEmbedding(3, **settings).fit(runs)
    given = FBNEmbedding(3, **settings).fit(runs, basis=principal_subspace(runs, 16, seed=2).numpy())
    np.testing.assert_array_equal(given.maps_, own.maps_)
    with pytest.raises(ShapeError, match=r"basis has shape \(120, 8\).*principal_subspace\(runs, 16, seed=2\)"):
        FBNEmbedding(3, **settings).fit(runs, basis=principal_subspace(runs, 8))
