import json

import numpy as np
import pytest
import torch
from torch import nn

from syncact.ann import ActivationCache, Preprocessing, custom_model, extract_activations, frames_digest
from syncact.exceptions import ConfigError


class _Counting(nn.Module):
    """A small CNN that counts its forward passes, to tell a cache hit from a recomputation."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(6, 5, 3, stride=2), nn.ReLU())
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.b(self.a(x))


@pytest.fixture
def frames(rng):
    return (rng.random((6, 20, 30, 3)) * 255).astype(np.uint8)


def _model(net: _Counting, **prep) -> object:
    return custom_model(net, name="counting", preprocessing=Preprocessing(16, **prep))


def _runs(net, frames, cache, **kw):
    """Forward passes made by one extraction (the private copy counts its calls on itself)."""
    seen = []
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: seen.append(m) if isinstance(m, _Counting) else None)
    try:
        acts = extract_activations(frames, kw.pop("model", None) or _model(net), kw.pop("layers", ["a", "b"]), cache=cache, **kw)
    finally:
        handle.remove()
    return acts, len(seen)


def test_second_run_reads_the_cache_and_gives_the_same_numbers(tmp_path, frames):
    net = _Counting()
    first, n1 = _runs(net, frames, tmp_path, batch_size=4)
    second, n2 = _runs(net, frames, tmp_path, batch_size=4)
    assert n1 == 2 and n2 == 0  # 6 frames in batches of 4; nothing recomputed the second time
    assert second.meta["cached_layers"] == ["a", "b"]
    for layer in ("a", "b"):
        np.testing.assert_array_equal(first.layers[layer], second.layers[layer])
    stores = sorted(tmp_path.rglob("*.zarr"))
    assert len(stores) == 2 and all(s.parent.parts[-2:] == ("counting", "custom") for s in stores)


@pytest.mark.parametrize("change", ["frames", "weights", "reduce", "layer", "preprocessing", "precision", "fold_bn",
                                    "channels_last"])
def test_a_changed_parameter_never_returns_a_stale_result(tmp_path, frames, change):
    net = _Counting()
    _runs(net, frames, tmp_path, layers=["b"])
    kw: dict = {"layers": ["b"]}
    if change == "frames":
        frames = frames.copy()
        frames[3, 4, 5, 0] ^= 1  # one bit of one pixel
    elif change == "weights":
        with torch.no_grad():
            net.b[0].bias[0] += 1.0
    elif change == "reduce":
        kw["reduce"] = "mean"
    elif change == "layer":
        kw["layers"] = ["b.0"]  # the conv before the ReLU: another module, same alias family
    elif change == "preprocessing":
        kw["model"] = _model(net, resize="crop")
    elif change == "precision":
        kw["precision"] = "bfloat16"
    elif change == "fold_bn":
        kw["fold_bn"] = False
    elif change == "channels_last":
        kw["channels_last"] = False  # another memory layout: other kernels, other rounding
    acts, n = _runs(net, frames, tmp_path, **kw)
    assert n > 0 and acts.meta["cached_layers"] == []


def test_partial_hit_computes_only_the_missing_layer(tmp_path, frames):
    net = _Counting()
    only_a, _ = _runs(net, frames, tmp_path, layers=["a"])
    both, n = _runs(net, frames, tmp_path, layers=["a", "b"])
    assert n > 0 and both.meta["cached_layers"] == ["a"]
    np.testing.assert_array_equal(both.layers["a"], only_a.layers["a"])


def test_a_corrupt_store_is_moved_aside_and_recomputed(tmp_path, frames):
    net = _Counting()
    first, _ = _runs(net, frames, tmp_path, layers=["b"])
    store = next(tmp_path.rglob("*.zarr"))
    for chunk in store.rglob("c/*"):
        if chunk.is_file():
            chunk.write_bytes(b"\x00garbage")
    with pytest.warns(RuntimeWarning, match="cannot be read.*recomputing"):
        again, n = _runs(net, frames, tmp_path, layers=["b"])
    assert n > 0
    np.testing.assert_array_equal(again.layers["b"], first.layers["b"])
    assert len(list(store.parent.glob("*.corrupt-*"))) == 1 and store.exists()


def test_the_full_key_is_stored_and_checked(tmp_path, frames):
    net = _Counting()
    _runs(net, frames, tmp_path, layers=["b"])
    import xarray as xr

    store = next(tmp_path.rglob("*.zarr"))
    with xr.open_zarr(store, consolidated=False) as ds:
        key = json.loads(ds.attrs["key"])
    assert key["frames"] == f"sha256:{frames_digest(frames)}" and key["reducer"] == "max" and key["module"] == "b"
    cache = ActivationCache(tmp_path)
    assert cache.load(store, {**key, "reducer": "mean"}) is None  # same place, other key: a miss
    assert cache.load(store, key).shape == (6, 5)


def test_streams_need_a_frames_key(tmp_path, frames):
    net = _Counting()
    with pytest.raises(ConfigError, match="frames_key"):
        extract_activations(iter(frames), _model(net), ["a"], cache=tmp_path)
    a, _ = _runs(net, iter(frames), tmp_path, layers=["a"], frames_key="movie-sha:abc|tr=1")
    b, n = _runs(net, iter(frames), tmp_path, layers=["a"], frames_key="movie-sha:abc|tr=1")
    assert n == 0
    np.testing.assert_array_equal(a.layers["a"], b.layers["a"])
