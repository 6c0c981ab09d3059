"""Every registered model: aliases at the right strides, fast path equal to plain torch, published accuracy."""

import numpy as np
import pytest
import torch

from syncact.ann import available_models, extract_activations, get_model
from syncact.ann.zoo import PLACES365_URL

PAPER_MODELS = ["alexnet", "vgg16", "resnet18", "resnet50", "densenet161", "inception_v3", "shufflenet_v2_x1_0",
                "mobilenet_v2", "resnext50_32x4d", "mnasnet1_0"]

# Expected spatial side of block1..block4 for the model's own input size.
EXPECTED_SIDES = {
    "alexnet": [27, 13, 13, 13], "vgg16": [112, 56, 28, 14], "inception_v3": [71, 35, 17, 8],
    "shufflenet_v2_x1_0": [28, 14, 7, 7], "vit_b_16": [14, 14, 14, 14],
}


def test_the_papers_zoo_is_registered_with_published_accuracy():
    assert set(PAPER_MODELS) | {"vit_b_16", "googlenet", "efficientnet_lite0", "efficientnet_lite1",
                                "efficientnet_lite2"} <= set(available_models())
    # Published torchvision IMAGENET1K_V1 top-1, read from the weight metadata without a download.
    assert get_model("resnet50", "random", top1_accuracy=None).top1_accuracy is None
    from syncact.ann.registry import get_adapter

    assert get_adapter("resnet50").published_top1["imagenet"] == pytest.approx(76.13)
    assert get_adapter("densenet161").published_top1["imagenet"] == pytest.approx(77.138)
    assert get_adapter("alexnet").published_top1["imagenet"] == pytest.approx(56.522)


@pytest.mark.parametrize("name", available_models())
def test_aliases_sit_at_their_strides_and_fast_path_matches_plain_torch(name):
    built = get_model(name, "random", seed=1)
    size = built.input_size
    seen = {}
    modules = dict(built.module.named_modules())
    aliases = [a for a in ("block1", "block2", "block3", "block4") if a in built.layers]
    assert len(aliases) == 4 and "last_layer" in built.layers
    hooks = [modules[built.layers[a].module].register_forward_hook(
        lambda m, i, o, a=a: seen.__setitem__(a, o[0] if isinstance(o, tuple) else o)) for a in aliases]
    frame = (np.random.default_rng(0).random((2, size, size, 3)) * 255).astype(np.uint8)
    with torch.inference_mode():
        built.module(built.preprocessing(frame))
    for h in hooks:
        h.remove()
    sides = [seen[a].shape[-1] if seen[a].ndim == 4 else int(round((seen[a].shape[1] - 1) ** 0.5)) for a in aliases]
    expected = EXPECTED_SIDES.get(name, [size // 4, size // 8, size // 16, size // 32])
    assert sides == pytest.approx(expected, abs=1), f"{name} block sides {sides}"
    # The fast path (folded batch norms, channels-last, prefetch) equals plain torch on the raw maps.
    acts = extract_activations(frame, built, ["block2", "last_layer"], batch_size=1)
    for alias in ("block2", "last_layer"):
        spec = built.layers[alias]
        out = {}
        h = modules[spec.module].register_forward_hook(lambda m, i, o, out=out: out.__setitem__("x", o))
        with torch.inference_mode():
            built.module(built.preprocessing(frame))
        h.remove()
        x = spec.post(out["x"]) if spec.post else out["x"]
        ref = x.flatten(2).amax(2).numpy()
        scale = np.abs(ref).max() + 1e-6
        np.testing.assert_allclose(acts.layers[alias] / scale, ref / scale, atol=2e-4)


def test_vit_neuron_is_an_embedding_channel_max_over_patches():
    built = get_model("vit_b_16", "random")
    frame = (np.random.default_rng(1).random((1, 64, 80, 3)) * 255).astype(np.uint8)
    out = {}
    h = built.module.encoder.layers.encoder_layer_11.register_forward_hook(lambda m, i, o: out.__setitem__("x", o))
    with torch.inference_mode():
        built.module(built.preprocessing(frame))
    h.remove()
    acts = extract_activations(frame, built, ["block4"]).layers["block4"]
    assert acts.shape == (1, 768)
    np.testing.assert_allclose(acts[0], out["x"][0, 1:, :].amax(0).numpy(), rtol=1e-4, atol=1e-4)


def _places_checkpoint(arch: str, hub: "Path", rename) -> torch.nn.Module:  # noqa: F821
    """Write a checkpoint in the published Places365 layout (DataParallel keys, epoch, arch) into the hub cache."""
    import torchvision

    torch.manual_seed(3)
    source = getattr(torchvision.models, arch)(weights=None, num_classes=365)
    state = {rename(f"module.{k}"): v for k, v in source.state_dict().items()}
    target = hub / "checkpoints" / PLACES365_URL.format(arch=arch).rsplit("/", 1)[1]
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 90, "arch": arch, "state_dict": state, "best_prec1": 54.7}, target)
    return source


def test_places365_checkpoints_load_through_the_real_path(tmp_path, monkeypatch):
    """The published files (DataParallel prefixes; old DenseNet key names) load via the hub cache."""
    import re

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    source = _places_checkpoint("resnet18", tmp_path, lambda k: k)
    built = get_model("resnet18", "places365")
    assert torch.equal(built.module.fc.weight, source.fc.weight) and built.module.fc.out_features == 365
    assert built.top1_accuracy is None  # not an ImageNet accuracy
    old = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.")
    source = _places_checkpoint("densenet161", tmp_path, lambda k: old.sub(r"\1.\2.", k))
    built = get_model("densenet161", "places365")
    key = "features.denseblock1.denselayer1.norm1.weight"
    assert torch.equal(built.module.state_dict()[key], source.state_dict()[key])
    with pytest.raises(ValueError, match="places365.*vgg16"):
        get_model("vgg16", "places365")


def test_timm_models_resolve_with_feature_info_aliases():
    pytest.importorskip("timm")
    built = get_model("timm:resnet18", "random")
    assert [built.layers[f"block{k}"].module for k in range(1, 5)] == ["layer1", "layer2", "layer3", "layer4"]
    frame = (np.random.default_rng(2).random((2, 40, 50, 3)) * 255).astype(np.uint8)
    assert extract_activations(frame, built, ["block3", "last_conv"]).layers["last_conv"].shape == (2, 512)
    vit = get_model("timm:vit_tiny_patch16_224", "random")
    assert vit.layers["block4"].post is not None and "last_conv" not in vit.layers
    assert extract_activations(frame, vit, ["block2"]).layers["block2"].shape == (2, 192)
    with pytest.raises(ValueError, match="resnet18"):
        get_model("timm:resnet81", "random")
