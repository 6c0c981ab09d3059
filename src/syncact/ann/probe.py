"""Look inside a network on a few frames: whole feature maps of chosen filters, and class scores.

:func:`syncact.ann.extract_activations` keeps one number per filter and frame. Describing a filter needs
more on a handful of frames: where in the frame it fires (its feature map, as Network Dissection shows
units) and which output classes move with it over the movie (the network's logits on every frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from syncact.ann.inference import inference_copy
from syncact.ann.registry import LOGITS, BuiltModel
from syncact.exceptions import ConfigError, ShapeError


def _frames_tensor(images: np.ndarray) -> torch.Tensor:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ShapeError(f"images must be uint8 of shape (n_frames, height, width, 3), got {images.dtype} {images.shape}.")
    if not len(images):
        raise ShapeError("images is empty (0 frames).")
    return torch.from_numpy(np.ascontiguousarray(images))


def _fast_copy(built: BuiltModel, hooked: list[str]) -> torch.nn.Module:
    """The extraction's inference copy (batch norms folded except hooked ones, channels-last) on the CPU."""
    return inference_copy(built, hooked, torch.device("cpu"))


def _prepared(built: BuiltModel, frames: torch.Tensor) -> torch.Tensor:
    x = built.preprocessing(frames)
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def layer_maps(images: np.ndarray, built: BuiltModel, layer: str, *, batch_size: int = 32) -> np.ndarray:
    """Whole feature maps of one layer on some frames.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_frames, height, width, 3)
    built : BuiltModel
    layer : str
        Alias (``last_conv``) or module name.
    batch_size : int, default=32

    Returns
    -------
    ndarray of float32, shape (n_frames, n_filters, h, w)
    """
    x = _frames_tensor(images)
    spec = built.resolve_layer(layer)
    grabbed: list[torch.Tensor] = []

    def hook(_module, _inputs, output) -> None:  # noqa: ANN001
        out = output[0] if isinstance(output, (tuple, list)) else output
        grabbed.append((spec.post(out) if spec.post is not None else out).float())

    module = _fast_copy(built, [spec.module])
    handle = dict(module.named_modules())[spec.module].register_forward_hook(hook)
    try:
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                module(_prepared(built, x[start : start + batch_size]))
    finally:
        handle.remove()
    out = torch.cat(grabbed)
    if out.ndim != 4:
        raise ShapeError(f"layer {layer!r} of {built.name} gives {tuple(out.shape)} outputs, not (n, channels, h, w) maps.")
    return out.numpy()


def layer_patterns(images: np.ndarray, built: BuiltModel, layers: Sequence[str], *,
                   batch_size: int = 32) -> dict[str, np.ndarray]:
    """Each layer's whole activation per image, flattened: the patterns RSA builds RDMs from.

    All layers come from the same forward passes.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_images, height, width, 3)
    built : BuiltModel
    layers : sequence of str
        Aliases, module names or ``"logits"``.
    batch_size : int, default=32

    Returns
    -------
    dict of str to ndarray of float32, shape (n_images, n_features)
        ``n_features`` is channels x height x width of the layer's map (or its output size).
    """
    x = _frames_tensor(images)
    if not layers:
        raise ConfigError("no layers given.")
    specs = {layer: built.resolve_layer(layer) for layer in layers}
    module = _fast_copy(built, [spec.module for spec in specs.values() if spec.module])
    modules = dict(module.named_modules())
    grabbed: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    handles = []

    def hook(layer: str):  # noqa: ANN202
        spec = specs[layer]

        def record(_module, _inputs, output) -> None:  # noqa: ANN001
            out = output[0] if isinstance(output, (tuple, list)) else output
            out = spec.post(out) if spec.post is not None else out
            grabbed[layer].append(out.float().reshape(out.shape[0], -1))

        return record

    for layer, spec in specs.items():
        handles.append(modules[spec.module].register_forward_hook(hook(layer)))
    try:
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                module(_prepared(built, x[start : start + batch_size]))
    finally:
        for handle in handles:
            handle.remove()
    return {layer: torch.cat(chunks).numpy() for layer, chunks in grabbed.items()}


def select_maps(maps: np.ndarray, channels: Sequence[int], size: tuple[int, int] | None = None) -> np.ndarray:
    """One filter's map per frame from :func:`layer_maps`, optionally resized bilinearly to ``size`` (h, w).

    Parameters
    ----------
    maps : ndarray of shape (n_frames, n_filters, h, w)
    channels : sequence of int, length n_frames or 1
    size : (int, int), optional

    Returns
    -------
    ndarray of float32, shape (n_frames, h, w) or (n_frames, *size)
    """
    chans = np.broadcast_to(np.asarray(channels, dtype=int), (maps.shape[0],)).copy()
    if chans.max() >= maps.shape[1] or chans.min() < 0:
        raise ConfigError(f"filter index {int(chans.max())} is out of range: the layer has {maps.shape[1]} filters.")
    chosen = torch.from_numpy(np.ascontiguousarray(maps[np.arange(maps.shape[0]), chans]))[:, None]
    if size is not None:
        chosen = F.interpolate(chosen, size=tuple(size), mode="bilinear", align_corners=False)
    return chosen[:, 0].numpy().astype(np.float32)


def feature_maps(images: np.ndarray, built: BuiltModel, layer: str, channels: Sequence[int], *,
                 upsample: bool = True) -> np.ndarray:
    """Feature maps of some filters of one layer on a few frames, optionally resized onto the frames.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_frames, height, width, 3)
    built : BuiltModel
    layer : str
    channels : sequence of int, length n_frames or 1
        The filter to keep for each frame (one index for all frames, or one per frame).
    upsample : bool, default=True
        Resize each map bilinearly to the frame's height x width (the model's input is resized from it).

    Returns
    -------
    ndarray of float32, shape (n_frames, h, w)
        Height and width of the frames when ``upsample``, else of the layer's map.
    """
    maps = layer_maps(images, built, layer)
    try:
        return select_maps(maps, channels, tuple(images.shape[1:3]) if upsample else None)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (layer {layer!r})") from None


def class_logits(images: np.ndarray, built: BuiltModel, *, batch_size: int = 32) -> np.ndarray:
    """The network's output scores on every frame (ImageNet logits for an ImageNet classifier).

    The same as extracting the pseudo-layer ``"logits"`` (:meth:`BuiltModel.resolve_layer`), which the
    pipeline does beside the other layers, in the same forward passes and through the cache.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_frames, height, width, 3)
    built : BuiltModel
    batch_size : int, default=32

    Returns
    -------
    ndarray of float32, shape (n_frames, n_classes)
    """
    from syncact.ann.extract import extract_activations

    _frames_tensor(images)  # the same checks and messages as the other probes
    return extract_activations(images, built, [LOGITS], batch_size=batch_size, cache=None).layers[LOGITS]


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet-1k class names in output order (torchvision's metadata; nothing is downloaded)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
