"""Image sets for RSA: a folder of the user's images, or natural photographs that ship with scikit-image.

Images are uint8 arrays of shape (n_images, size, size, 3), the layout every network probe takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from syncact._validation import check_positive
from syncact.exceptions import CorruptFileError, MissingFileError, ShapeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# Photographs bundled with scikit-image (no download): colour first, then greyscale ones shown as RGB.
# (``cat`` is ``chelsea`` under another name, so it is not listed.)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "coins", "moon", "grass", "gravel", "brick")
# Square crops taken from each photo, as (fraction of the shorter side, vertical, horizontal position in [0, 1]).
_CROPS = ((1.0, 0.5, 0.5), (0.6, 0.25, 0.25), (0.6, 0.75, 0.75), (0.6, 0.25, 0.75), (0.6, 0.75, 0.25),
          (0.4, 0.5, 0.5), (0.8, 0.5, 0.5), (0.5, 0.5, 0.2))


def _square(image: np.ndarray, fraction: float, fy: float, fx: float, size: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    side = int(round(min(h, w) * fraction))
    top, left = int(round((h - side) * fy)), int(round((w - side) * fx))
    crop = image[top : top + side, left : left + side]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BICUBIC))


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


def natural_images(n_images: int = 16, size: int = 224) -> tuple[np.ndarray, list[str]]:
    """Natural photographs from scikit-image's bundled data, as a fixed, reproducible image set.

    The 13 photographs (``PHOTOS``) come first as centre crops; larger sets add off-centre and zoomed
    crops of each (up to 104 images).

    Parameters
    ----------
    n_images : int, default=16
    size : int, default=224
        Side of the square images in pixels.

    Returns
    -------
    images : ndarray of uint8, shape (n_images, size, size, 3)
    names : list of str
        ``"<photo>-crop<k>"`` for each image.
    """
    import skimage.data

    check_positive("n_images", n_images, integer=True)
    check_positive("size", size, integer=True)
    limit = len(PHOTOS) * len(_CROPS)
    if n_images > limit:
        raise ShapeError(f"n_images={n_images}: the bundled photographs give at most {limit}; load your own with load_images.")
    photos = {name: _rgb(getattr(skimage.data, name)()) for name in PHOTOS}
    images, names = [], []
    for k, crop in enumerate(_CROPS):
        for name in PHOTOS:
            if len(images) == n_images:
                break
            images.append(_square(photos[name], *crop, int(size)))
            names.append(f"{name}-crop{k}")
    return np.stack(images), names


def load_images(source: str | Path | Sequence[str | Path], size: int = 224) -> tuple[np.ndarray, list[str]]:
    """Read images from a folder (sorted by name) or a list of files, as square RGB arrays.

    Each image is centre-cropped to a square and resized (bicubic) to ``size``.

    Parameters
    ----------
    source : path or sequence of paths
        A folder (every file with a suffix in ``IMAGE_SUFFIXES``) or image files.
    size : int, default=224

    Returns
    -------
    images : ndarray of uint8, shape (n_images, size, size, 3)
    names : list of str
        File stems, in the order of ``images``.
    """
    from PIL import Image, UnidentifiedImageError

    check_positive("size", size, integer=True)
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.exists():
            raise MissingFileError(f"image folder {str(folder)!r} does not exist.")
        if folder.is_file():
            paths = [folder]
        else:
            paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not paths:
                raise MissingFileError(f"{str(folder)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
    else:
        paths = [Path(p) for p in source]
    images = []
    for path in paths:
        if not path.is_file():
            raise MissingFileError(f"image {str(path)!r} is missing.")
        try:
            with Image.open(path) as img:
                array = _rgb(np.asarray(img.convert("RGB")))
        except (UnidentifiedImageError, OSError) as exc:
            raise CorruptFileError(f"image {str(path)!r} cannot be read ({exc}); replace or remove it.") from None
        images.append(_square(array, 1.0, 0.5, 0.5, int(size)))
    if len(images) < 3:
        raise ShapeError(f"{len(images)} images: an RDM needs at least 3.")
    return np.stack(images), [p.stem for p in paths]


def save_images(images: np.ndarray, directory: str | Path, names: Sequence[str] | None = None) -> list[Path]:
    """Write images as PNG files (``image-01.png``... unless named); never overwrites an existing file.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_images, height, width, 3)
    directory : path
    names : sequence of str, optional

    Returns
    -------
    list of Path
    """
    from PIL import Image

    from syncact._io import atomic_path

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ShapeError(f"images must be uint8 (n, height, width, 3), got {images.dtype} {images.shape}.")
    width = max(2, len(str(len(images))))
    names = list(names) if names is not None else [f"image-{i + 1:0{width}d}" for i in range(len(images))]
    if len(names) != len(images):
        raise ShapeError(f"{len(names)} names for {len(images)} images.")
    directory = Path(directory)
    paths = [directory / f"{name}.png" for name in names]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise FileExistsError(f"{len(existing)} image files exist already (e.g. {existing[0]!r}); choose a new folder.")
    directory.mkdir(parents=True, exist_ok=True)
    for image, path in zip(images, paths, strict=True):
        with atomic_path(path) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
    return paths
