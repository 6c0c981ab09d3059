"""A synthetic movie made of the real photographs that scikit-image bundles.

Shots of random length show one photo each with a camera move (pan, zoom in, zoom out or a slow
drift) and a lighting gain; shots are separated by hard cuts. Frames are encoded to H.264 MP4 with
PyAV. Everything is determined by the seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_positive

logger = logging.getLogger(__name__)

PHOTOS = (
    "astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "page", "hubble_deep_field",
    "immunohistochemistry", "retina", "brick", "grass", "gravel", "colorwheel", "clock", "cell",
    "stereo_motorcycle",
)  # fmt: skip
MOVES = ("pan", "zoom_in", "zoom_out", "drift")


@dataclass(frozen=True)
class Shot:
    """One shot of the movie: which photo, when, which camera move and lighting gain."""

    photo: str
    start: float
    duration: float
    move: str
    gain: float


def load_photos(names: tuple[str, ...] = PHOTOS) -> dict[str, np.ndarray]:
    """Load bundled scikit-image photos as RGB uint8 arrays (gray images are replicated to 3 channels)."""
    import skimage.data

    photos = {}
    for name in names:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle returns (left, right, disparity)
            img = img[0]
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = (255 * (img - img.min()) / max(np.ptp(img), 1e-12)).astype(np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        photos[name] = np.ascontiguousarray(img[..., :3])
    return photos


def plan_shots(duration: float, rng: np.random.Generator, *, min_shot: float = 3.0, max_shot: float = 9.0) -> list[Shot]:
    """Random shot list covering ``duration`` seconds, never the same photo twice in a row."""
    shots: list[Shot] = []
    t, previous = 0.0, None
    while t < duration:
        photo = str(rng.choice([p for p in PHOTOS if p != previous]))
        length = float(rng.uniform(min_shot, max_shot))
        shots.append(Shot(photo, t, length, str(rng.choice(MOVES)), float(rng.uniform(0.55, 1.35))))
        t += length
        previous = photo
    return shots


def _crop_box(photo_shape: tuple[int, ...], aspect: float, progress: float, move: str, seed_xy: np.ndarray) -> tuple[float, ...]:
    """Crop window (x0, y0, x1, y1) in photo pixels at ``progress`` in [0, 1] of a shot."""
    h, w = photo_shape[:2]
    base_w = min(w, h * aspect)
    scale = {"pan": 0.7, "zoom_in": 1.0 - 0.5 * progress, "zoom_out": 0.5 + 0.5 * progress, "drift": 0.85}[move]
    cw, ch = base_w * scale, base_w * scale / aspect
    a, b = seed_xy[:2], seed_xy[2:]
    frac = a + (b - a) * progress if move in ("pan", "drift") else (a + b) / 2
    if move == "drift":
        frac = a + (b - a) * 0.2 * progress
    x0 = frac[0] * (w - cw)
    y0 = frac[1] * (h - ch)
    return (x0, y0, x0 + cw, y0 + ch)


def render_frames(
    shots: list[Shot], photos: dict[str, np.ndarray], fps: float, duration: float, size: tuple[int, int], rng: np.random.Generator
):  # noqa: ANN201 - generator
    """Yield (time, RGB uint8 frame of shape (height, width, 3)) at a constant frame rate."""
    width, height = size
    aspect = width / height
    pil = {name: Image.fromarray(img) for name, img in photos.items()}
    paths = [rng.uniform(0, 1, size=4) for _ in shots]
    n_frames = int(np.ceil(duration * fps))
    shot_index = 0
    for i in range(n_frames):
        t = i / fps
        while shot_index + 1 < len(shots) and t >= shots[shot_index + 1].start:
            shot_index += 1
        shot = shots[shot_index]
        progress = min(max((t - shot.start) / shot.duration, 0.0), 1.0)
        box = _crop_box(photos[shot.photo].shape, aspect, progress, shot.move, paths[shot_index])
        frame = pil[shot.photo].transform((width, height), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
        arr = np.asarray(frame, dtype=np.float32) * shot.gain
        yield t, np.clip(arr, 0, 255).astype(np.uint8)


def make_movie(
    path: str | Path,
    duration: float,
    *,
    fps: float = 12.0,
    size: tuple[int, int] = (256, 180),
    seed: int = 0,
    crf: int = 23,
    progress: bool = False,
) -> list[Shot]:
    """Write a movie of real photos with camera moves and cuts to an H.264 MP4.

    Parameters
    ----------
    path : str or Path
        Output ``.mp4`` (written atomically).
    duration : float
        Length in seconds.
    fps : float, default=12.0
        Frame rate.
    size : (width, height), default=(256, 180)
        Frame size; both must be even (H.264 with yuv420p).
    seed : int, default=0
    crf : int, default=23
        x264 constant rate factor (quality).
    progress : bool, default=False

    Returns
    -------
    list of Shot
        The shot list (ground truth of cuts and moves).
    """
    from fractions import Fraction

    import av

    check_positive("duration", duration)
    check_positive("fps", fps)
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"size={size}: H.264 needs an even width and height.")
    rng = np.random.default_rng(seed)
    shots = plan_shots(duration, rng)
    photos = load_photos()
    n_frames = int(np.ceil(duration * fps))
    with _io.atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
            for _t, img in tqdm(render_frames(shots, photos, fps, duration, size, rng), total=n_frames,
                                desc=f"movie {Path(path).name}", unit="frame", disable=_io.bar_disabled(progress), leave=False):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    logger.info("wrote %s: %d shots, %.1f s at %g fps", path, len(shots), duration, fps)
    return shots
