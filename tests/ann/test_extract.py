import numpy as np
import pytest
import torch

from syncact.ann import Activations, extract_activations, get_model
from syncact.ann.inference import fold_batchnorms, inplace_activations, pad_into_conv
from syncact.exceptions import ConfigError, ShapeError, UnknownNameError


@pytest.fixture(scope="module")
def frames():
    return (np.random.default_rng(0).random((7, 48, 64, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def resnet():
    return get_model("resnet18", "random")


def _reference(built, frames, module_name):
    out = {}
    handle = built.module.get_submodule(module_name).register_forward_hook(lambda m, i, o: out.__setitem__("x", o.clone()))
    with torch.inference_mode():
        built.module(built.preprocessing(frames))
    handle.remove()
    return out["x"]


def test_hook_reduction_equals_reducing_the_full_feature_map(frames, resnet):
    acts = extract_activations(frames, resnet, ["block2", "last_conv"], batch_size=3)
    for layer, module in (("block2", "layer2"), ("last_conv", "layer4")):
        full = _reference(resnet, frames, module)
        np.testing.assert_allclose(acts.layers[layer], full.amax(dim=(2, 3)).numpy(), rtol=1e-4, atol=1e-4)
    assert acts.layers["last_conv"].shape == (7, 512)
    for reduce, fn in (("mean", lambda x: x.mean(dim=(2, 3))), ("l2", lambda x: x.square().mean(dim=(2, 3)).sqrt())):
        got = extract_activations(frames, resnet, ["block2"], reduce=reduce).layers["block2"]
        np.testing.assert_allclose(got, fn(_reference(resnet, frames, "layer2")).numpy(), rtol=1e-4, atol=1e-4)


def test_a_hooked_convolution_keeps_its_raw_output(frames, resnet):
    """Folding must not change what a hook on a convolution sees (its batch norm is then kept apart)."""
    acts = extract_activations(frames, resnet, ["layer1.0.conv1"])
    raw = _reference(resnet, frames, "layer1.0.conv1").amax(dim=(2, 3)).numpy()
    np.testing.assert_allclose(acts.layers["layer1.0.conv1"], raw, rtol=1e-4, atol=1e-4)


def test_fold_batchnorms_keeps_the_function_and_names():
    import copy

    built = get_model("resnet18", "random", seed=3)
    for m in built.module.modules():  # non-trivial statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    folded = copy.deepcopy(built.module)
    assert fold_batchnorms(folded, keep={"layer1.0.conv1"}) == 19  # 20 conv-bn pairs, one kept apart
    assert isinstance(folded.layer1[0].bn2, torch.nn.Identity) and isinstance(folded.layer1[0].bn1, torch.nn.BatchNorm2d)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), built.module(x), rtol=1e-4, atol=1e-4)


def test_batching_streaming_prefetch_and_threads_do_not_change_the_result(frames, resnet):
    ref = extract_activations(frames, resnet, ["block3"], batch_size=7, prefetch=0).layers["block3"]
    small = extract_activations(frames, resnet, ["block3"], batch_size=2).layers["block3"]
    stream = extract_activations(iter(list(frames)), resnet, ["block3"], batch_size=3).layers["block3"]
    chunks = extract_activations((frames[i : i + 4] for i in range(0, 7, 4)), resnet, ["block3"], batch_size=3).layers["block3"]
    before = torch.get_num_threads()
    single = extract_activations(frames, resnet, ["block3"], num_threads=1).layers["block3"]
    assert torch.get_num_threads() == before
    for other in (small, stream, chunks, single):
        np.testing.assert_allclose(other, ref, rtol=1e-4, atol=1e-4)


def test_the_default_batch_follows_the_device(frames, resnet):
    from syncact.ann.extract import CPU_BATCH, default_batch_size

    assert default_batch_size("cpu") == CPU_BATCH == 8 and default_batch_size(torch.device("cuda")) == 64
    by_default = extract_activations(frames, resnet, ["block2"])  # 7 frames: one batch of the default 8
    np.testing.assert_allclose(by_default.layers["block2"], extract_activations(frames, resnet, ["block2"], batch_size=2)
                               .layers["block2"], rtol=1e-5, atol=1e-5)


def test_the_heap_guard_returns_freed_pages_past_its_budget():
    from syncact.ann.inference import HeapGuard, _malloc_trim, _resident_bytes

    if _malloc_trim() is None or _resident_bytes() is None:
        pytest.skip("needs glibc on Linux")
    guard = HeapGuard(budget=64 * 2**20)
    kept = [np.ones(2048) for _ in range(40_000)]  # 660 MB in 16 KB blocks: glibc's heap, not mmap
    del kept[::2]  # every other block freed: fragmented, nothing at the heap's top to shrink
    grown = _resident_bytes()
    guard.check()
    assert _resident_bytes() < grown - 200 * 2**20  # the freed half went back to the system
    assert guard.base == pytest.approx(_resident_bytes(), rel=0.05)
    quiet = HeapGuard(budget=2**40)
    before = quiet.base
    quiet.check()
    assert quiet.base == before  # within its budget it does nothing


def test_bfloat16_is_close_and_float16_is_refused_on_cpu(frames, resnet):
    ref = extract_activations(frames, resnet, ["block2"]).layers["block2"]
    bf = extract_activations(frames, resnet, ["block2"], precision="bfloat16")
    assert bf.meta["precision"] == "bfloat16"
    assert np.corrcoef(bf.layers["block2"].ravel(), ref.ravel())[0, 1] > 0.99
    with pytest.raises(ConfigError, match="bfloat16"):
        extract_activations(frames, resnet, ["block2"], precision="float16")


def test_lite0_inference_copy_keeps_the_function():
    """Folded batch norms, paddings moved into convolutions and in-place ReLU6 on the real Lite0 (TF-style padding)."""
    import copy

    built = get_model("efficientnet_lite0", "imagenet")
    net = built.module.eval()
    fast = copy.deepcopy(net)
    assert fold_batchnorms(fast) == 49
    assert pad_into_conv(fast) == 12  # the stride-1 "same" paddings; the 5 asymmetric stride-2 ones stay
    assert inplace_activations(fast) == 17
    assert isinstance(fast._blocks[0]._depthwise_conv, torch.nn.Conv2d) and fast._blocks[0]._depthwise_conv.padding == (1, 1)
    assert fast._swish.inplace and not net._swish.inplace  # the user's module is untouched
    x = torch.randn(2, 3, 224, 224)
    seen = {}
    for model, key in ((net, "slow"), (fast, "fast")):
        handle = model._blocks[5].register_forward_hook(lambda m, i, o, key=key: seen.__setitem__(key, o.clone()))
        with torch.inference_mode():
            seen[key + "_out"] = model(x)
        handle.remove()
    torch.testing.assert_close(seen["fast"], seen["slow"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(seen["fast_out"], seen["slow_out"], rtol=1e-4, atol=1e-4)


def test_an_activation_whose_input_is_read_again_stays_out_of_place():
    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.relu, self.conv2, self.relu2 = (torch.nn.Conv2d(3, 3, 1), torch.nn.ReLU6(),
                                                            torch.nn.Conv2d(3, 3, 1), torch.nn.ReLU6())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.relu(y) + y + self.relu2(self.conv2(x))  # y is read after relu: in place would change it

    net = Shared().eval()
    x = torch.randn(2, 3, 5, 5) * 10
    with torch.inference_mode():
        before = net(x)
        assert inplace_activations(net) == 1 and not net.relu.inplace and net.relu2.inplace
        torch.testing.assert_close(net(x), before)


def test_lite_last_conv_applies_relu6(frames):
    model = get_model("efficientnet_lite0", "imagenet")
    acts = extract_activations(frames, model, ["last_conv"])
    assert acts.layers["last_conv"].shape == (7, 1280)
    assert acts.layers["last_conv"].min() >= 0 and acts.layers["last_conv"].max() <= 6
    assert acts.meta["top1_accuracy"] == pytest.approx(75.1)


def test_bad_inputs(frames, resnet):
    with pytest.raises(ShapeError, match="uint8"):
        extract_activations(frames.astype(np.float32), resnet, ["block1"])
    with pytest.raises(ShapeError, match="empty"):
        extract_activations(frames[:0], resnet, ["block1"])
    with pytest.raises(ShapeError, match="empty"):
        extract_activations(iter([]), resnet, ["block1"])
    with pytest.raises(ShapeError, match="non-empty list"):
        extract_activations(frames, resnet, "block1")
    with pytest.raises(UnknownNameError, match="median"):
        extract_activations(frames, resnet, ["block1"], reduce="median")
    with pytest.raises(UnknownNameError, match="nolayer"):
        extract_activations(frames, resnet, ["nolayer"])
    with pytest.raises(ShapeError, match=r"got uint8 \(5, 5\)"):  # a grey frame inside a stream
        extract_activations(iter([frames[0], frames[1, :5, :5, 0]]), resnet, ["block1"])


def test_activations_roundtrip(tmp_path, frames, resnet):
    acts = extract_activations(frames, resnet, ["block1"], reduce="topk:3")
    acts.save(tmp_path / "a.npz")
    back = Activations.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.layers["block1"], acts.layers["block1"])
    assert back.model == "resnet18" and back.reduce == "topk:3" and back.meta["weights_digest"] == resnet.weights_digest
    da = acts.to_xarray("block1")
    assert da.dims == ("time", "filter") and da.attrs["reduce"] == "topk:3"


def test_a_decoding_movie_streams_into_the_network_and_the_cache(tmp_path, resnet):
    """Frames decoded by PyAV feed the network while decoding goes on; the stream is cached by the movie's key."""
    from syncact.simulate.movie import make_movie
    from syncact.stimulus import iter_sync_frames, sync_frames, sync_key

    movie = tmp_path / "m.mp4"
    make_movie(movie, 9.0, fps=6.0, size=(96, 64), seed=1)
    sync = {"tr": 1.0, "n_timepoints": 8, "size": (96, 64)}
    array = extract_activations(sync_frames(movie, **sync).images, resnet, ["block3"]).layers["block3"]
    key = sync_key(movie, **sync)
    stream = (img for _, img, _ in iter_sync_frames(movie, **sync))
    first = extract_activations(stream, resnet, ["block3"], batch_size=3, cache=tmp_path / "c", frames_key=key)
    np.testing.assert_allclose(first.layers["block3"], array, rtol=1e-4, atol=1e-4)
    again = extract_activations(iter([]), resnet, ["block3"], cache=tmp_path / "c", frames_key=key)
    assert again.meta["cached_layers"] == ["block3"]  # nothing decoded: the key says it is the same stream
