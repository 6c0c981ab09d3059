"""Low-level visual features of frames, one value per frame: what a filter may simply be tracking.

Each function takes uint8 RGB frames (n_frames, height, width, 3) and returns (n_frames,) float64.
:data:`FRAME_FEATURES` names them for descriptions ("brightness", "motion", ...); :func:`frame_features`
computes them all once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _luma(images: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of RGB frames, shape (n_frames, height, width), float32."""
    return images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luminance(images: np.ndarray) -> np.ndarray:
    """Mean Rec. 601 luma of each frame."""
    return _luma(images).mean(axis=(1, 2)).astype(np.float64)


def motion_energy(images: np.ndarray) -> np.ndarray:
    """Mean absolute luma change from the previous frame (the first frame repeats the second's value)."""
    diff = np.abs(np.diff(_luma(images), axis=0)).mean(axis=(1, 2)).astype(np.float64)
    return np.concatenate([diff[:1], diff])


def contrast(images: np.ndarray) -> np.ndarray:
    """RMS contrast: standard deviation of luma within each frame."""
    return _luma(images).std(axis=(1, 2)).astype(np.float64)


def colourfulness(images: np.ndarray) -> np.ndarray:
    """Hasler & Suesstrunk (2003) colourfulness: spread and mean of the opponent channels rg and yb."""
    rgb = images.astype(np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
    centre = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return (spread + 0.3 * centre).astype(np.float64)


def edge_density(images: np.ndarray) -> np.ndarray:
    """Mean luma gradient magnitude (fine detail and texture)."""
    luma = _luma(images)
    gy, gx = np.gradient(luma, axis=(1, 2))
    return np.sqrt(gx**2 + gy**2).mean(axis=(1, 2)).astype(np.float64)


FRAME_FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "brightness": luminance,
    "motion": motion_energy,
    "contrast": contrast,
    "colourfulness": colourfulness,
    "edges and texture": edge_density,
}
"""Feature name -> function, in the words a description uses."""


def frame_features(images: np.ndarray) -> pd.DataFrame:
    """Every feature of :data:`FRAME_FEATURES` for every frame: DataFrame (n_frames, n_features)."""
    return pd.DataFrame({name: feature(images) for name, feature in FRAME_FEATURES.items()})
