"""The network as extraction runs it: a private copy prepared for fast inference, and the heap kept in check.

:func:`inference_copy` deep-copies the user's module and, where ``torch.fx`` can trace it, folds eval-mode batch
norms into their convolutions (:func:`fold_batchnorms`), moves symmetric "same" paddings into the convolution
(:func:`pad_into_conv`) and runs activations in place where nothing else reads their input
(:func:`inplace_activations`), then converts it to channels-last. :class:`HeapGuard` gives glibc's retained free
pages back to the system between batches. Measured in docs/models.md (``benchmarks/bench_extract.py``).
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable, Iterable

import torch
from torch import nn

from syncact.ann.registry import BuiltModel

logger = logging.getLogger(__name__)


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def _trace(module: nn.Module):  # noqa: ANN202 - a torch.fx.Graph, or None
    """The module's torch.fx graph with every Conv2d (subclasses too) as one call, or None (logged) if untraceable."""
    import torch.fx as fx

    class ConvLeaves(fx.Tracer):  # a Conv2d subclass (e.g. TF-style "same" padding) is a conv too: keep it whole
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, nn.Conv2d) or super().is_leaf_module(m, qualname)

    try:
        return ConvLeaves().trace(module)
    except Exception as exc:  # dynamic control flow: run as it is
        logger.info("%s cannot be traced by torch.fx (%s): no folding or in-place activations", type(module).__name__, exc)
        return None


_FRESH = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)  # modules whose output is a new tensor
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.SiLU, nn.Hardswish, nn.LeakyReLU, nn.ELU)


def inplace_activations(module: nn.Module, *, keep: Iterable[str] = (), graph=None) -> int:  # noqa: ANN001
    """Make activation modules work in place where nothing else reads their input, in place.

    An out-of-place activation writes a new tensor the size of its input: on CPU a full extra pass over
    memory (EfficientNet-Lite0's ReLU6 took as long as all its convolutions). An activation module is
    switched to ``inplace=True`` only if, at every call, its input is the fresh output of a convolution,
    linear layer or batch norm (through ``nn.Identity``, what a folded batch norm becomes) that nothing
    else uses, and none of the modules along the way is named in ``keep`` (a hook there may hold the tensor it
    saw, as synthesis and probing do; extraction's hooks reduce it at once).

    ``graph`` (optional) is the module's :func:`_trace`, reused when the caller has it: folding and moving
    paddings replace modules under the same names, so one trace serves every step.

    Returns
    -------
    int
        Number of activation modules switched.
    """
    graph = _trace(module) if graph is None else graph
    if graph is None:
        return 0
    keep = set(keep)
    modules = dict(module.named_modules())

    def fresh_and_unshared(node) -> bool:  # noqa: ANN001 - a torch.fx.Node
        while True:
            if node.op != "call_module" or len(node.users) != 1 or node.target in keep:
                return False
            producer = modules.get(node.target)
            if isinstance(producer, _FRESH):
                return True
            if not isinstance(producer, nn.Identity) or not node.args:
                return False
            node = node.args[0]

    safe: dict[str, bool] = {}
    for node in graph.nodes:
        act = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(act, _ACTIVATIONS) and hasattr(act, "inplace"):
            ok = bool(node.args) and fresh_and_unshared(node.args[0])
            safe[node.target] = safe.get(node.target, True) and ok
    switched = 0
    for name, ok in safe.items():
        if ok and not modules[name].inplace:
            modules[name].inplace = True
            switched += 1
    return switched


def fold_batchnorms(module: nn.Module, *, keep: Iterable[str] = (), graph=None) -> int:  # noqa: ANN001
    """Fold every eval-mode BatchNorm2d into the Conv2d whose output feeds only it, in place.

    The folded convolution computes ``bn(conv(x))`` and the batch norm becomes ``nn.Identity`` under the
    same name, so a hook on the batch norm still sees the same values. Convolutions named in ``keep``
    (their raw output is wanted) are left alone, and so are batch norms named in ``keep`` (a hooked layer is
    computed as the network computes it: folding moves its values by up to ~1e-5 relative). Needs a graph traceable by ``torch.fx``; otherwise
    nothing is folded (logged).

    Returns
    -------
    int
        Number of folded pairs.
    """
    import torch.fx as fx
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    graph = _trace(module) if graph is None else graph
    if graph is None:
        return 0
    keep = set(keep)
    modules = dict(module.named_modules())
    folded = 0
    for node in graph.nodes:
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, nn.BatchNorm2d) or not bn.track_running_stats or not node.args:
            continue
        prev = node.args[0]
        conv = modules.get(prev.target) if isinstance(prev, fx.Node) and prev.op == "call_module" else None
        if not isinstance(conv, nn.Conv2d) or len(prev.users) != 1 or prev.target in keep or node.target in keep:
            continue
        if sum(1 for n in graph.nodes if n.op == "call_module" and n.target == prev.target) != 1:
            continue  # a conv module called twice cannot be folded for one of its uses only
        _set_submodule(module, prev.target, fuse_conv_bn_eval(conv.eval(), bn.eval()))
        _set_submodule(module, node.target, nn.Identity())
        folded += 1
    return folded


def pad_into_conv(module: nn.Module, *, keep: Iterable[str] = ()) -> int:
    """Move a symmetric zero padding that a Conv2d subclass applies before itself into the convolution, in place.

    TF-ported networks (EfficientNet-Lite's ``Conv2dStaticSamePadding``) pad with a ``static_padding``
    ``nn.ZeroPad2d`` submodule, a full pass over the input; when the padding is the same on both sides the
    convolution pads for free (``padding=(top, left)``). Asymmetric paddings (TF "same" at stride 2) stay.

    Returns
    -------
    int
        Number of convolutions changed.
    """
    keep = set(keep)
    changed = 0
    for name, conv in list(module.named_modules()):
        pad = getattr(conv, "static_padding", None)
        if (not isinstance(conv, nn.Conv2d) or type(conv) is nn.Conv2d or not isinstance(pad, nn.ZeroPad2d)
                or name in keep or f"{name}.static_padding" in keep or any(conv.padding)
                or not isinstance(conv.padding, tuple)):
            continue
        left, right, top, bottom = pad.padding
        if left != right or top != bottom:
            continue
        plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=tuple(conv.stride),
                          padding=(top, left), dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                          device=conv.weight.device, dtype=conv.weight.dtype)
        plain.load_state_dict({"weight": conv.weight, **({"bias": conv.bias} if conv.bias is not None else {})})
        _set_submodule(module, name, plain.eval())
        changed += 1
    return changed


def inference_copy(built: BuiltModel, hooked: Iterable[str], device: torch.device, *,
                   fold_bn: bool = True, channels_last: bool = True) -> nn.Module:
    """A private copy of the network, prepared for fast inference; the user's module is not touched."""
    module = copy.deepcopy(built.module).eval()
    if fold_bn:
        graph = _trace(module)  # one trace for both graph steps: they replace modules under the same names
        if graph is not None:
            n = fold_batchnorms(module, keep=hooked, graph=graph)
            logger.debug("%s: folded %d batch norms", built.name, n)
        n = pad_into_conv(module, keep=hooked)
        logger.debug("%s: %d paddings moved into their convolutions", built.name, n)
        if graph is not None:
            n = inplace_activations(module, keep=hooked, graph=graph)
            logger.debug("%s: %d activations made in place", built.name, n)
    module = module.to(device)
    if channels_last and any(isinstance(m, nn.Conv2d) for m in module.modules()):
        module = module.to(memory_format=torch.channels_last)
    return module


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc/self/statm``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class HeapGuard:
    """Give the pages glibc keeps after ``free`` back to the system when the resident memory has grown by more
    than ``budget`` bytes since the last check that trimmed (``malloc_trim(0)``; a no-op without glibc or Linux).

    A forward pass frees layer outputs of many sizes; glibc keeps the freed pages of its heaps and, as they
    fragment over thousands of batches, the resident memory grew by 0.5-2.8 GB over 2,000 Lite0 frames. Trimming
    after every batch held that to 0.1-0.2 GB but made the next batch fault the pages in again (ResNet-50 ~20 %
    slower); trimming only past a budget bounds the growth and costs nothing while there is none.
    """

    def __init__(self, budget: int = 256 * 2**20) -> None:
        self.budget = budget
        self.base = _resident_bytes()

    def check(self) -> None:
        """Trim if the resident memory grew past the budget."""
        now = _resident_bytes()
        trim = _malloc_trim()
        if now is None or self.base is None or trim is None or now - self.base <= self.budget:
            return
        trim(0)
        self.base = _resident_bytes()
