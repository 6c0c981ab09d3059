"""Filter describers: planted drivers come back as the filter's classes, features and frames."""

import numpy as np
import pytest
from scipy import stats

from syncact.annotate import class_drivers, feature_drivers, top_frames
from syncact.exceptions import ShapeError
from syncact.stimulus.features import FRAME_FEATURES, frame_features


def test_class_drivers_rank_the_planted_class_with_pearson_r(rng):
    t, names = 120, ["filter-0", "filter-1"]
    acts = rng.normal(size=(t, 2))
    logits = rng.normal(size=(t, 5))
    logits[:, 3] += 2 * acts[:, 0]
    logits[:, 1] += 2 * acts[:, 1]
    table = class_drivers(acts, logits, ["cat", "dog", "car", "cup", "tree"], names, top=2)
    best = table[table["rank"] == 1].set_index("unit")["term"]
    assert best["filter-0"] == "cup" and best["filter-1"] == "dog"
    assert table.iloc[0]["score"] == pytest.approx(stats.pearsonr(acts[:, 0], logits[:, 3])[0], abs=1e-10)
    with pytest.raises(ShapeError, match="120 frames but logits has 100"):
        class_drivers(acts, logits[:100], ["a"] * 5, names)


def test_feature_drivers_on_real_photos(rng):
    from skimage import data
    from skimage.transform import resize

    photo = resize(data.astronaut(), (60, 80), anti_aliasing=True)
    offset = rng.uniform(0, 90, size=40)  # brighter frames, same contrast and edges
    frames = np.clip(photo[None] * 160 + offset[:, None, None, None], 0, 255).astype(np.uint8)
    brightness = FRAME_FEATURES["brightness"](frames)
    acts = np.column_stack([brightness + 0.01 * rng.normal(size=40), -brightness])
    table = feature_drivers(acts, frame_features(frames), ["bright", "dark"])
    assert table[table["unit"] == "bright"].iloc[0]["term"] == "brightness"
    assert "brightness" not in table.loc[table["unit"] == "dark", "term"].tolist()  # only positive drivers


def test_top_frames_best_first_and_apart():
    acts = np.array([[0.0], [5], [4.9], [1], [3], [0]])
    np.testing.assert_array_equal(top_frames(acts, [0], k=3), [[1, 2, 4]])
    np.testing.assert_array_equal(top_frames(acts, [0], k=3, min_gap=1), [[1, 4, -1]])
