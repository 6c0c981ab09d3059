"""Filter temporal activations: one forward pass per batch of frames, reduced inside the hooks.

For filter ``f`` of a layer and frame ``t``, ``a_f(t) = reduce(feature_map_f(t))`` with the spatial
max by default (the paper). The reduction runs inside the forward hook on the model's device, so memory
is O(F) per frame whatever the map size; only the (T, F) result is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_choice, check_file, check_positive
from syncact.ann.registry import BuiltModel, get_model
from syncact.exceptions import CorruptFileError, ShapeError

logger = logging.getLogger(__name__)


def _reduce_max(x: torch.Tensor) -> torch.Tensor:
    return x.amax(dim=tuple(range(2, x.ndim)))


def _reduce_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=tuple(range(2, x.ndim)))


REDUCERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"max": _reduce_max, "mean": _reduce_mean}


@dataclass
class Activations:
    """Temporal activations of the filters of one model's layers.

    Attributes
    ----------
    model, weights, reduce : str
        What produced them.
    layers : dict of str to ndarray of shape (n_timepoints, n_filters)
        Activation of every filter at every time point, per layer (float32).
    meta : dict
        Provenance (weights digest, input size, ImageNet top-1 accuracy when known).
    """

    model: str
    weights: str
    reduce: str
    layers: dict[str, np.ndarray]
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_timepoints(self) -> int:
        return int(next(iter(self.layers.values())).shape[0])

    def save(self, path: str | Path) -> Path:
        """Save to ``path`` (``.npz``) atomically."""
        import json

        header = {"model": self.model, "weights": self.weights, "reduce": self.reduce, "meta": self.meta}
        arrays = {f"layer:{name}": arr for name, arr in self.layers.items()}
        return _io.save_npz(path, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Activations:
        """Load activations saved by :meth:`save`."""
        import json

        path = check_file(path, "activations file")
        try:
            with np.load(path) as data:
                header = json.loads(str(data["header"]))
                layers = {k.removeprefix("layer:"): data[k] for k in data.files if k.startswith("layer:")}
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptFileError(f"activations file {str(path)!r} cannot be read ({exc}); delete it to recompute.") from exc
        return cls(layers=layers, **header)


def preprocess(images: np.ndarray, model: BuiltModel, device: torch.device) -> torch.Tensor:
    """Turn uint8 frames into the network's normalised input.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 3), uint8
    model : BuiltModel
    device : torch.device

    Returns
    -------
    Tensor of shape (n, 3, input_size, input_size), float32
        The whole frame resized to the square input (nothing cropped away), then normalised.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    size = model.input_size
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(model.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def extract_activations(
    frames: np.ndarray,
    model: str | BuiltModel,
    layers: Sequence[str],
    *,
    weights: str = "imagenet",
    reduce: str = "max",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Activations:
    """Temporal activation of every filter of ``layers`` over a frame sequence.

    Parameters
    ----------
    frames : ndarray of shape (n_timepoints, height, width, 3), uint8
        One frame per fMRI time point (see :func:`syncact.stimulus.sync_frames`).
    model : str or BuiltModel
        A registered model name or a model built by :func:`syncact.ann.get_model`.
    layers : sequence of str
        Layer aliases (``block1``..``block4``, ``last_conv``) or module names. All are read in one pass.
    weights : str, default="imagenet"
        Weights when ``model`` is a name.
    reduce : {"max", "mean"}, default="max"
        Spatial reduction of each feature map (the paper uses the max).
    batch_size : int, default=32
        Frames per forward pass; bounds memory.
    device : str or torch.device, default="cpu"
    progress : bool, default=False
        Show a progress bar over batches.

    Returns
    -------
    Activations
        ``layers[name]`` of shape (n_timepoints, n_filters), float32.
    """
    images = np.asarray(frames)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ShapeError(f"frames must be uint8 of shape (n_timepoints, height, width, 3), got {images.dtype} {images.shape}.")
    check_choice("reduce", reduce, REDUCERS)
    check_positive("batch_size", batch_size, integer=True)
    if not layers:
        raise ShapeError("layers is empty; name at least one layer (e.g. 'last_conv').")
    built = model if isinstance(model, BuiltModel) else get_model(model, weights)
    device = torch.device(device)
    specs = {name: built.resolve_layer(name) for name in layers}
    module = built.module.to(device)
    modules = dict(module.named_modules())
    reducer = REDUCERS[reduce]
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in specs}

    def make_hook(name: str, post: Callable[[torch.Tensor], torch.Tensor] | None):  # noqa: ANN202
        def hook(_module, _inputs, output) -> None:  # noqa: ANN001
            out = output[0] if isinstance(output, (tuple, list)) else output
            if post is not None:
                out = post(out)
            collected[name].append(reducer(out).float().cpu())

        return hook

    handles = [modules[spec.module].register_forward_hook(make_hook(name, spec.post)) for name, spec in specs.items()]
    n = images.shape[0]
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, n, batch_size), desc=f"{built.name}", unit="batch", disable=not progress, leave=False):
                module(preprocess(images[start : start + batch_size], built, device))
    finally:
        for handle in handles:
            handle.remove()
    result = {name: torch.cat(chunks).numpy().astype(np.float32, copy=False) for name, chunks in collected.items()}
    meta = {
        "weights_digest": built.weights_digest,
        "input_size": built.input_size,
        "top1_accuracy": built.top1_accuracy,
        "modules": {name: spec.module for name, spec in specs.items()},
    }
    return Activations(model=built.name, weights=built.weights, reduce=reduce, layers=result, meta=meta)
