import numpy as np
import pytest
import torch

from syncact.ann import Preprocessing
from syncact.exceptions import ConfigError, ShapeError


def test_squash_keeps_the_whole_frame_and_normalises(rng):
    frames = np.zeros((2, 30, 60, 3), dtype=np.uint8)
    frames[:, :, :30] = 255  # left half white
    x = Preprocessing(16, mean=(0.5,) * 3, std=(0.5,) * 3)(frames)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    np.testing.assert_allclose(x[0, 0, :, :7].numpy(), 1.0, atol=1e-5)  # white -> +1
    np.testing.assert_allclose(x[0, 0, :, 9:].numpy(), -1.0, atol=1e-5)  # black -> -1


def test_crop_matches_torchvision_eval_transform(rng):
    from torchvision.transforms import v2

    frames = (rng.random((3, 90, 160, 3)) * 255).astype(np.uint8)  # noise: a one-pixel shift would show
    prep = Preprocessing(64, resize="crop")
    ours = prep(frames)
    ref = v2.Compose([v2.Resize(round(64 / 0.875), antialias=True), v2.CenterCrop(64), v2.ToDtype(torch.float32, scale=True),
                      v2.Normalize(prep.mean, prep.std)])(torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert ours.shape == ref.shape == (3, 3, 64, 64)
    # torchvision resizes uint8 and rounds: at most one grey level (1/255/std = 0.0175) apart
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=0.018)


def test_bad_frames_and_parameters():
    prep = Preprocessing()
    with pytest.raises(ShapeError, match="uint8"):
        prep(np.zeros((2, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ShapeError, match="channels last"):
        prep(np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ShapeError, match="empty"):
        prep(np.zeros((0, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ConfigError, match="std"):
        Preprocessing(std=(0.1, 0.0, 0.1))
    with pytest.raises(ValueError, match="resize"):
        Preprocessing(resize="pad")
