import numpy as np
import pytest

from syncact.brain import FBNEmbedding, split_subjects
from syncact.exceptions import ConfigError, ShapeError


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
    with pytest.raises(ShapeError, match="differ in shape"):
        FBNEmbedding(4, n_epochs=1).fit([runs[0], runs[1][:10]])
    with pytest.raises(ConfigError, match="not fitted"):
        FBNEmbedding(4).transform(runs[0])
    emb = FBNEmbedding(4, n_epochs=1, n_components=8).fit(runs)
    with pytest.raises(ShapeError, match=r"\(n_timepoints, 30\)"):
        emb.transform(runs[0][:, :10])


def test_state_dict_saves_what_transform_needs(rng, tmp_path):
    import torch

    runs, _, _ = _planted(rng, n_runs=2)
    emb = FBNEmbedding(4, temporal="msa", n_heads=2, n_epochs=2, n_components=16, seed=0).fit(runs)
    torch.save(emb.state_dict(), tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert state["basis"].shape == (600, 16) and state["params"]["temporal"] == "msa"
    np.testing.assert_array_equal(state["signs"].numpy(), emb.signs_)
