import numpy as np
import pytest
import torch
from torch import nn

from syncact.ann import Preprocessing, available_models, custom_model, extract_activations, get_model
from syncact.exceptions import CorruptFileError, MissingFileError, UnknownNameError


def test_unknown_model_names_close_matches():
    with pytest.raises(UnknownNameError, match="resnet5.*Did you mean 'resnet50'.*syncact models"):
        get_model("resnet5")
    with pytest.raises(UnknownNameError, match="places365.*'imagenet', 'random'"):
        get_model("mobilenet_v2", "places365")
    assert "vit_b_16" in available_models()


def test_lite0_imagenet_weights_classify_a_real_photo():
    """The offline weights and their preprocessing are right: chelsea is a cat, coffee an espresso."""
    import skimage.data

    model = get_model("efficientnet_lite0", "imagenet")
    assert model.top1_accuracy == pytest.approx(75.1)
    images = np.stack([np.asarray(torch.nn.functional.interpolate(
        torch.from_numpy(img).permute(2, 0, 1)[None].float(), size=(300, 400)).round().clamp(0, 255)[0]
        .permute(1, 2, 0).numpy(), dtype=np.uint8) for img in (skimage.data.chelsea(), skimage.data.coffee())])
    with torch.inference_mode():
        logits = model.module(model.preprocessing(images))
    top = logits.argmax(dim=1).tolist()
    assert top[0] in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert top[1] == 967  # espresso


def test_layer_aliases_resolve_and_unknown_layer_lists_close_matches():
    model = get_model("resnet18", "random")
    assert model.resolve_layer("block3").module == "layer3"
    assert model.resolve_layer("layer2.1.conv1").module == "layer2.1.conv1"
    with pytest.raises(UnknownNameError, match="blok3.*Did you mean 'block3'.*syncact layers resnet18"):
        model.resolve_layer("blok3")
    lite = get_model("efficientnet_lite0", "random")
    assert [lite.resolve_layer(f"block{k}").module for k in range(1, 5)] == ["_blocks.2", "_blocks.4", "_blocks.10", "_blocks.15"]


def test_random_weights_are_seeded_and_the_digest_tells_them_apart():
    a, b, c = (get_model("resnet18", "random", seed=s) for s in (1, 1, 2))
    assert torch.equal(a.module.conv1.weight, b.module.conv1.weight) and not torch.equal(a.module.conv1.weight, c.module.conv1.weight)
    assert a.weights_digest == b.weights_digest != c.weights_digest


def test_local_weights_file_roundtrip_and_errors(tmp_path):
    source = get_model("resnet18", "random", seed=5)
    path = tmp_path / "w.pt"
    torch.save({f"module.{k}": v for k, v in source.module.state_dict().items()}, path)  # DataParallel prefix
    loaded = get_model("resnet18", str(path), top1_accuracy=70.1)
    assert torch.equal(loaded.module.fc.weight, source.module.fc.weight)
    assert len(loaded.weights_digest) == 64 and loaded.top1_accuracy == 70.1
    with pytest.raises(MissingFileError, match="missing.pt"):
        get_model("resnet18", str(tmp_path / "missing.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match="bad.pt"):
        get_model("resnet18", str(bad))
    # A file from another architecture: the message names the keys that do not fit.
    other = tmp_path / "r50.pt"
    torch.save(get_model("resnet50", "random").module.state_dict(), other)
    with pytest.raises(CorruptFileError, match=r"do not fit ResNet: 198 unexpected: layer1.0.conv3.weight.*wrong shape"):
        get_model("resnet18", str(other))
    import torchvision

    classes = tmp_path / "places.pt"
    torch.save(torchvision.models.resnet18(num_classes=365).state_dict(), classes)
    with pytest.raises(CorruptFileError, match=r"2 wrong shape \(file != model\): fc.weight \(365, 512\) != \(1000, 512\)"):
        get_model("resnet18", str(classes))


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x))


def test_custom_model_extracts_and_is_left_untouched():
    torch.manual_seed(0)
    net = _Tiny()
    net.stem[1].running_mean.uniform_(-1, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    built = custom_model(net, name="tiny", preprocessing=Preprocessing(32, resize="crop"), layers={"stem": "stem", "out": "head"})
    frames = (np.random.default_rng(0).random((5, 40, 60, 3)) * 255).astype(np.uint8)
    acts = extract_activations(frames, built, ["stem", "out"], batch_size=2)
    with torch.inference_mode():
        ref = net.stem(built.preprocessing(frames)).amax(dim=(2, 3)).numpy()
    np.testing.assert_allclose(acts.layers["stem"], ref, rtol=1e-5, atol=1e-5)
    assert acts.layers["out"].shape == (5, 4)
    # extraction folded batch norms on a copy only
    assert isinstance(net.stem[1], nn.BatchNorm2d)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(UnknownNameError, match="stemm.*Did you mean 'stem'"):
        custom_model(net, layers={"x": "stemm"})
