"""Reading weight files into networks, with digests that identify exactly which weights were used.

Every load goes through ``torch.load(weights_only=True)``: a weights file never runs code. A file that
does not fit the architecture is reported key by key (missing, unexpected, wrong shape) so the user can
tell a wrong architecture from a wrong file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from syncact import _io
from syncact._validation import check_file
from syncact.exceptions import CorruptFileError

StateDict = dict[str, torch.Tensor]

_MAX_LISTED = 6


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    return _io.file_sha256(path)


def state_dict_digest(module: nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and values, in order).

    Two modules with the same digest compute the same function, so the digest can key a cache of their
    outputs; it identifies randomly initialised and user-supplied networks that have no weights file.
    """
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
    return h.hexdigest()


def _unwrap(obj: object, source: str) -> StateDict:
    """The tensor dict inside a checkpoint: the object itself or its "state_dict"/"model" entry."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CorruptFileError(
            f"weights file {source!r} holds a {type(obj).__name__} that is not a state dict (a mapping of names to "
            "tensors, possibly under 'state_dict'). Save it with torch.save(model.state_dict(), path)."
        )
    # DataParallel wraps modules as ".module."; the Places365 AlexNet/VGG checkpoints wrap only `features`.
    return {re.sub(r"(^|\.)module\.", r"\1", k): v for k, v in obj.items()}


def read_state_dict(path: str | Path) -> StateDict:
    """Read a state dict from a local file with ``torch.load(weights_only=True)``.

    Accepts a plain state dict, a checkpoint holding one under ``"state_dict"`` or ``"model"``, and keys
    with DataParallel's ``module.`` segments (removed).
    """
    path = check_file(path, "weights file", hint="Give a path to a state-dict file saved with torch.save.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad or foreign file
        raise CorruptFileError(
            f"weights file {str(path)!r} cannot be read by torch.load(weights_only=True) ({type(exc).__name__}: {exc}). "
            "Is it a complete PyTorch state-dict file?"
        ) from exc
    return _unwrap(obj, str(path))


def load_state_dict_checked(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` strictly, naming the keys that do not fit.

    Raises
    ------
    CorruptFileError
        With the missing keys, the unexpected keys and the shape mismatches (first few of each).
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape (file != model)", wrong)):
            if keys:
                more = f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:_MAX_LISTED])}{more}")
        raise CorruptFileError(
            f"weights {source!r} do not fit {type(module).__name__}: " + "; ".join(parts) + ". "
            "Check that the file was saved from the same architecture (and number of classes)."
        )
    module.load_state_dict(state, strict=True)


def load_state_dict_file(
    module: nn.Module, path: str | Path, *, convert: Callable[[StateDict], StateDict] | None = None
) -> str:
    """Load a local state-dict file into ``module`` and return the file's SHA-256.

    Parameters
    ----------
    module : nn.Module
    path : str or Path
    convert : callable, optional
        Renames keys of an older layout (e.g. the Places365 DenseNet) before loading.
    """
    state = read_state_dict(path)
    if convert is not None:
        state = convert(state)
    load_state_dict_checked(module, state, str(path))
    return file_digest(path)


def load_state_dict_url(module: nn.Module, url: str, *, convert: Callable[[StateDict], StateDict] | None = None) -> str:
    """Download (once, into the torch hub cache) and load a published state dict; return the file's SHA-256.

    This is the real loading path for users with a network; offline it fails with torch's own message
    unless the file is already in ``$TORCH_HOME/hub/checkpoints``.
    """
    from torch.hub import get_dir

    cached = Path(get_dir()) / "checkpoints" / Path(url).name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), progress=True)
    return load_state_dict_file(module, cached, convert=convert)


_DENSENET_OLD_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


def convert_old_densenet(state: StateDict) -> StateDict:
    """Rename pre-2018 DenseNet keys (``denselayer1.norm.1.weight``) to torchvision's (``denselayer1.norm1.weight``).

    The Places365 DenseNet-161 checkpoint was saved with the old names.
    """
    return {_DENSENET_OLD_KEY.sub(r"\1\2.", k): v for k, v in state.items()}
