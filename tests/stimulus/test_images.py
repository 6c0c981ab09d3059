"""Image sets: scikit-image's photographs, a folder of the user's images, PNG output that never overwrites."""

import numpy as np
import pytest

from syncact.exceptions import CorruptFileError, MissingFileError, ShapeError
from syncact.stimulus import load_images, natural_images, save_images


def test_natural_images_are_distinct_square_photographs():
    images, names = natural_images(20, 64)
    assert images.shape == (20, 64, 64, 3) and images.dtype == np.uint8
    assert len(set(names)) == 20
    flat = images.reshape(20, -1).astype(float)
    r = np.corrcoef(flat)
    assert r[~np.eye(20, dtype=bool)].max() < 0.99  # no photograph twice (skimage's cat is chelsea)
    assert images.std() > 20
    with pytest.raises(ShapeError, match="at most"):
        natural_images(500)


def test_save_then_load_round_trip(tmp_path, rng):
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    paths = save_images(images, tmp_path / "set")
    assert [p.name for p in paths] == ["image-01.png", "image-02.png", "image-03.png", "image-04.png"]
    loaded, names = load_images(tmp_path / "set", size=32)
    np.testing.assert_array_equal(loaded, images)
    assert names == ["image-01", "image-02", "image-03", "image-04"]
    with pytest.raises(FileExistsError, match="new folder"):
        save_images(images, tmp_path / "set")
    assert load_images(paths[:3], size=16)[0].shape == (3, 16, 16, 3)


def test_bad_folders_and_files_are_named(tmp_path, rng):
    with pytest.raises(MissingFileError, match="does not exist"):
        load_images(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="no image files"):
        load_images(tmp_path / "empty")
    save_images(rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8), tmp_path / "bad")
    (tmp_path / "bad" / "image-02.png").write_bytes(b"not a png")
    with pytest.raises(CorruptFileError, match="image-02.png"):
        load_images(tmp_path / "bad")
