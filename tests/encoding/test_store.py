"""Encoding from a prepared store: the streamed mean and ISC equal the in-memory ones; bad inputs are named."""

import numpy as np
import pytest

from syncact.brain import prepare_dataset
from syncact.brain.layouts import scan_dataset
from syncact.encoding import isc
from syncact.encoding.ceiling import jackknife_ceiled
from syncact.encoding.store import encode_store, streamed_interval, streamed_isc
from syncact.exceptions import ConfigError, DataError, ShapeError


@pytest.fixture(scope="module")
def store(tiny_dataset, tmp_path_factory):
    return prepare_dataset(scan_dataset(tiny_dataset.root), tmp_path_factory.mktemp("enc") / "p.zarr", progress=False)


def test_streamed_mean_and_isc_equal_the_stacked_runs(store, tmp_path):
    subjects = store.subjects
    mean, streamed = streamed_isc(store, "1", subjects, tmp_path / "mean.npy", block=7)  # blocks that do not divide T
    stacked = np.stack([store.read(s, "1") for s in subjects]).astype(np.float64)
    np.testing.assert_allclose(mean, stacked.mean(axis=0), atol=1e-6)  # float32 on disk
    np.testing.assert_allclose(streamed, isc(stacked), atol=1e-8)
    assert mean.shape == (stacked.shape[1], store.n_features) and not mean.flags.writeable


def test_streamed_interval_equals_the_in_memory_jackknife(store, rng):
    """Each voxel's ceiled r and jackknife interval from sums streamed over blocks of the store equal
    jackknife_ceiled on the stacked runs (1e-8)."""
    subjects, runs = store.subjects, ["1", "2"]
    stacked = [np.stack([store.read(s, r) for s in subjects]).astype(np.float64)[:, :, :500] for r in runs]
    predictions = [d.mean(axis=0) + rng.standard_normal(d.shape[1:]) for d in stacked]
    expected = jackknife_ceiled(predictions, stacked)

    class Part:  # the store's first 500 voxels
        def read(self, subject, run, start=0, stop=None):
            return store.read(subject, run, start=start, stop=stop)[:, :500]

    streamed = streamed_interval(Part(), runs, subjects, predictions, block=7)
    for name in ("r", "ceiling", "value", "low", "high"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(expected, name), atol=1e-8, err_msg=name)
    assert np.isfinite(streamed.low).sum() > 100


def test_bad_inputs_are_named_before_any_fit(store, tmp_path, rng):
    t = store.runs[0]["n_timepoints"]
    good = {run: {"layer": rng.standard_normal((t, 4))} for run in ("1", "2")}
    with pytest.raises(ConfigError, match="at least 2 runs"):
        encode_store(store, {"1": good["1"]}, tmp_path)
    with pytest.raises(DataError, match="subjects lack runs"):
        encode_store(store, good, tmp_path, subjects=["01", "99"])
    with pytest.raises(ShapeError, match="time points of features for"):
        encode_store(store, {"1": good["1"], "2": {"layer": rng.standard_normal((t - 1, 4))}}, tmp_path)
    with pytest.raises(ShapeError, match="has layers"):
        encode_store(store, {"1": good["1"], "2": {"other": good["2"]["layer"]}}, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written
