"""Turning uint8 movie frames into a network's input, batched on the device.

Two resize policies:

- ``"squash"`` (default): the whole frame is resized to the square input, so nothing on screen is cut
  away (a movie's edges carry content a viewer sees); the aspect ratio is not kept.
- ``"crop"``: torchvision's evaluation transform (resize the shorter side to ``input_size / 0.875``,
  then a centre crop), which keeps the aspect ratio and matches how the ImageNet accuracies were
  measured, at the price of the frame's edges.

Resizing is bilinear with antialiasing, on the whole batch at once (torch), which matches PIL's
resampling closely and is several times faster than a per-image PIL loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from syncact._validation import check_choice
from syncact.exceptions import ConfigError, ShapeError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_POLICIES = ("squash", "crop")
_CROP_RATIO = 0.875


@dataclass(frozen=True)
class Preprocessing:
    """How frames become a network's input.

    Attributes
    ----------
    input_size : int
        Side of the square input in pixels (224 for most ImageNet models, 299 for Inception V3).
    mean, std : tuple of 3 floats
        Per-channel normalisation of RGB values scaled to [0, 1].
    resize : {"squash", "crop"}
        See the module docstring.
    """

    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    resize: str = "squash"

    def __post_init__(self) -> None:
        check_choice("resize", self.resize, RESIZE_POLICIES)
        if int(self.input_size) != self.input_size or self.input_size < 8:
            raise ConfigError(f"input_size must be an integer >= 8, got {self.input_size!r}.")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if len(value) != 3:
                raise ConfigError(f"{name} must have 3 values (R, G, B), got {value!r}.")
        if min(self.std) <= 0:
            raise ConfigError(f"std must be > 0 for every channel, got {self.std!r}.")

    def key(self) -> dict[str, object]:
        """Everything that changes the network input, for cache keys and provenance."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def __call__(self, images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """Frames to normalised input.

        Parameters
        ----------
        images : ndarray or Tensor of shape (n, height, width, 3), uint8
        device : torch.device or str

        Returns
        -------
        Tensor of shape (n, 3, input_size, input_size), float32, on ``device``
        """
        return preprocess_frames(images, self, device)


def check_frames(images: np.ndarray) -> np.ndarray:
    """Raise ShapeError unless ``images`` is a non-empty uint8 array of shape (n, height, width, 3)."""
    if not isinstance(images, (np.ndarray, torch.Tensor)):
        raise ShapeError(f"frames must be a uint8 array of shape (n_frames, height, width, 3), got {type(images).__name__}.")
    dtype = str(images.dtype).removeprefix("torch.")
    if images.ndim != 4 or images.shape[-1] != 3 or dtype != "uint8":
        raise ShapeError(
            f"frames must be uint8 of shape (n_frames, height, width, 3) (RGB, channels last), got {dtype} "
            f"{tuple(images.shape)}. Use syncact.stimulus.sync_frames, or convert with np.clip(x*255, 0, 255).astype(np.uint8)."
        )
    if images.shape[0] == 0:
        raise ShapeError("frames is empty (0 frames): the movie gave no frame; check the movie file and the TR/offset.")
    if min(images.shape[1:3]) < 2:
        raise ShapeError(f"frames of {images.shape[1]}x{images.shape[2]} pixels are too small to resize.")
    return images


def preprocess_frames(images: np.ndarray | torch.Tensor, prep: Preprocessing, device: torch.device | str = "cpu") -> torch.Tensor:
    """See :meth:`Preprocessing.__call__`."""
    check_frames(images)
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    size = int(prep.input_size)
    if prep.resize == "crop":
        h, w = x.shape[-2:]
        short = round(size / _CROP_RATIO)  # torchvision's rule: the long side is truncated, offsets rounded
        new = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
        x = F.interpolate(x, size=new, mode="bilinear", align_corners=False, antialias=True)
        top, left = int(round((new[0] - size) / 2)), int(round((new[1] - size) / 2))
        x = x[..., top : top + size, left : left + size]
    elif x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(prep.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std).contiguous()
