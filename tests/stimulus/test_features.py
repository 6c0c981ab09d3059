import numpy as np

from syncact.stimulus.features import FRAME_FEATURES, colourfulness, contrast, edge_density, luminance, motion_energy


def test_features_respond_to_what_they_name(rng):
    grey = np.full((1, 20, 20, 3), 128, np.uint8)
    red = grey.copy()
    red[..., 0], red[..., 1:] = 250, 20
    noisy = rng.integers(0, 256, size=(1, 20, 20, 3)).astype(np.uint8)
    frames = np.concatenate([grey, red, noisy])
    assert colourfulness(frames)[1] > colourfulness(frames)[0] == 0
    assert contrast(frames)[2] > contrast(frames)[0] and edge_density(frames)[2] > edge_density(frames)[0]
    assert luminance(grey)[0] == np.float32(128 * 0.299 + 128 * 0.587 + 128 * 0.114)
    moving = motion_energy(frames)
    assert moving.shape == (3,) and moving[0] == moving[1] > 0
    assert all(f(frames).shape == (3,) for f in FRAME_FEATURES.values())
