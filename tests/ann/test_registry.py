import numpy as np
import pytest
import torch

from syncact.ann import available_models, get_model
from syncact.ann.extract import preprocess
from syncact.exceptions import CorruptFileError, MissingFileError, UnknownNameError


def test_registry_lists_models_and_rejects_unknown():
    assert {"efficientnet_lite0", "efficientnet_lite2", "resnet18"} <= set(available_models())
    with pytest.raises(UnknownNameError, match="alexnet.*choose one of"):
        get_model("alexnet")


def test_lite0_imagenet_weights_classify_a_real_photo():
    """The offline weights and their preprocessing are right: chelsea is a cat, coffee an espresso."""
    import skimage.data

    model = get_model("efficientnet_lite0", "imagenet")
    assert model.top1_accuracy == pytest.approx(75.1)
    images = np.stack([np.asarray(torch.nn.functional.interpolate(
        torch.from_numpy(img).permute(2, 0, 1)[None].float(), size=(300, 400)).round().clamp(0, 255)[0]
        .permute(1, 2, 0).numpy(), dtype=np.uint8) for img in (skimage.data.chelsea(), skimage.data.coffee())])
    with torch.inference_mode():
        logits = model.module(preprocess(images, model, torch.device("cpu")))
    top = logits.argmax(dim=1).tolist()
    assert top[0] in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert top[1] == 967  # espresso


def test_layer_aliases_resolve_and_unknown_layer_is_named():
    model = get_model("resnet18", "random")
    assert model.resolve_layer("block3").module == "layer3"
    assert model.resolve_layer("layer2.1.conv1").module == "layer2.1.conv1"
    with pytest.raises(UnknownNameError, match="block9.*syncact layers resnet18"):
        model.resolve_layer("block9")
    lite = get_model("efficientnet_lite0", "random")
    assert [lite.resolve_layer(f"block{k}").module for k in range(1, 5)] == ["_blocks.2", "_blocks.4", "_blocks.10", "_blocks.15"]


def test_random_weights_are_seeded():
    a = get_model("resnet18", "random", seed=1).module.conv1.weight
    b = get_model("resnet18", "random", seed=1).module.conv1.weight
    c = get_model("resnet18", "random", seed=2).module.conv1.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_local_weights_file_roundtrip_and_errors(tmp_path):
    source = get_model("resnet18", "random", seed=5)
    path = tmp_path / "w.pt"
    torch.save({f"module.{k}": v for k, v in source.module.state_dict().items()}, path)  # DataParallel prefix
    loaded = get_model("resnet18", str(path))
    assert torch.equal(loaded.module.fc.weight, source.module.fc.weight)
    assert len(loaded.weights_digest) == 64
    with pytest.raises(MissingFileError, match="missing.pt"):
        get_model("resnet18", str(tmp_path / "missing.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match="bad.pt"):
        get_model("resnet18", str(bad))
