import pickle

import pytest
import torch
from torch import nn

from syncact.ann.weights import convert_old_densenet, file_digest, read_state_dict, state_dict_digest
from syncact.exceptions import CorruptFileError, MissingFileError


def test_state_dict_digest_identifies_the_function():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    b = pickle.loads(pickle.dumps(a))
    assert state_dict_digest(a) == state_dict_digest(b)
    with torch.no_grad():
        b[0].weight[0, 0, 0, 0] += 1e-6
    assert state_dict_digest(a) != state_dict_digest(b)
    b = pickle.loads(pickle.dumps(a))
    b[1].num_batches_tracked += 1  # a 0-d integer buffer counts too
    assert state_dict_digest(a) != state_dict_digest(b)


def test_read_state_dict_unwraps_checkpoints_and_strips_dataparallel(tmp_path):
    state = {"features.0.weight": torch.ones(2), "fc.bias": torch.zeros(3)}
    path = tmp_path / "ckpt.pth.tar"
    torch.save({"epoch": 3, "arch": "x", "state_dict": {"features.module.0.weight": state["features.0.weight"],
                                                        "module.fc.bias": state["fc.bias"]}}, path)
    assert read_state_dict(path).keys() == state.keys()
    assert file_digest(path) == file_digest(path) and len(file_digest(path)) == 64


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_weights_files_never_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"w": Evil()}, fh)
    with pytest.raises(CorruptFileError, match="evil.pt.*weights_only"):
        read_state_dict(path)
    torch.save({"w": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(CorruptFileError, match="not a state dict"):
        read_state_dict(tmp_path / "list.pt")
    with pytest.raises(MissingFileError, match="nope.pt"):
        read_state_dict(tmp_path / "nope.pt")


def test_old_densenet_keys_are_renamed():
    old = {"features.denseblock1.denselayer1.norm.1.weight": 1, "features.denseblock1.denselayer12.conv.2.weight": 2,
           "features.norm5.weight": 3, "classifier.weight": 4}
    assert list(convert_old_densenet(old)) == ["features.denseblock1.denselayer1.norm1.weight",
                                               "features.denseblock1.denselayer12.conv2.weight",
                                               "features.norm5.weight", "classifier.weight"]
