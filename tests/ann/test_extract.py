import numpy as np
import pytest
import torch

from syncact.ann import extract_activations, get_model
from syncact.ann.extract import preprocess
from syncact.exceptions import ShapeError, UnknownNameError


@pytest.fixture(scope="module")
def frames():
    return (np.random.default_rng(0).random((7, 48, 64, 3)) * 255).astype(np.uint8)


def test_hook_max_equals_max_of_full_feature_map(frames):
    model = get_model("resnet18", "random")
    acts = extract_activations(frames, model, ["block2", "last_conv"], batch_size=3)
    full = {}
    handles = [model.module.layer2.register_forward_hook(lambda m, i, o: full.__setitem__("block2", o)),
               model.module.layer4.register_forward_hook(lambda m, i, o: full.__setitem__("last_conv", o))]
    with torch.inference_mode():
        model.module(preprocess(frames, model, torch.device("cpu")))
    for h in handles:
        h.remove()
    for layer in ("block2", "last_conv"):
        expected = full[layer].amax(dim=(2, 3)).numpy()
        np.testing.assert_allclose(acts.layers[layer], expected, rtol=1e-5, atol=1e-5)
    assert acts.layers["last_conv"].shape == (7, 512)


def test_lite_last_conv_applies_relu6_and_mean_reducer(frames):
    model = get_model("efficientnet_lite0", "imagenet")
    acts = extract_activations(frames, model, ["last_conv"], reduce="max")
    assert acts.layers["last_conv"].shape == (7, 1280)
    assert acts.layers["last_conv"].min() >= 0 and acts.layers["last_conv"].max() <= 6
    mean = extract_activations(frames, model, ["last_conv"], reduce="mean").layers["last_conv"]
    assert np.all(mean <= acts.layers["last_conv"] + 1e-6)


def test_batch_size_does_not_change_result(frames):
    model = get_model("efficientnet_lite0", "imagenet")
    a = extract_activations(frames, model, ["block3"], batch_size=2).layers["block3"]
    b = extract_activations(frames, model, ["block3"], batch_size=7).layers["block3"]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bad_inputs(frames):
    with pytest.raises(ShapeError, match="uint8"):
        extract_activations(frames.astype(np.float32), "resnet18", ["block1"], weights="random")
    with pytest.raises(UnknownNameError, match="reduce"):
        extract_activations(frames, "resnet18", ["block1"], weights="random", reduce="median")
    with pytest.raises(UnknownNameError, match="nolayer"):
        extract_activations(frames, "resnet18", ["nolayer"], weights="random")


def test_activations_roundtrip(tmp_path, frames):
    from syncact.ann import Activations

    acts = extract_activations(frames, "resnet18", ["block1"], weights="random")
    acts.save(tmp_path / "a.npz")
    back = Activations.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.layers["block1"], acts.layers["block1"])
    assert back.model == "resnet18" and back.meta["weights_digest"] == "random"
