"""A plan of units: each a module-level function with plain arguments, keyed by what it computes from.

A unit's **key** is a SHA-256 of its function, its arguments (arrays and tables by content, dataclasses
field by field, paths as strings, objects with ``content_key()`` by what they hold) and its
dependencies' keys, so a changed input changes the key of the unit and of everything downstream.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from syncact.exceptions import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dep:
    """An argument that takes the result of the unit named ``name`` (also inside a list, tuple or dict argument)."""

    name: str


def deps_in(value: Any) -> list[str]:
    """Names of the units whose results ``value`` takes: its :class:`Dep` objects, also inside lists, tuples and dicts."""
    if isinstance(value, Dep):
        return [value.name]
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in deps_in(item)]
    return []


def resolve(value: Any, results: Mapping[str, Any]) -> Any:
    """``value`` with each :class:`Dep` (also inside lists, tuples and dicts) replaced by that unit's result."""
    if isinstance(value, Dep):
        return results[value.name]
    if isinstance(value, Mapping) and deps_in(value):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and deps_in(value):
        return type(value)(resolve(v, results) for v in value)
    return value


@dataclass(frozen=True)
class Unit:
    """One independent piece of work.

    Attributes
    ----------
    name : str
        Unique, path-like (``"pair/efficientnet_lite0/imagenet/block3/run-1"``).
    func : callable
        A module-level function (it is pickled to the workers).
    kwargs : dict
        Its keyword arguments; :class:`Dep` values are replaced by other units' results.
    key : str
        SHA-256 of the function, the arguments and the dependencies' keys.
    outputs : tuple of str
        Files the function writes besides its result; a finished result whose outputs are gone is computed again.
    settings : dict
        Keyword arguments that do not change the result (a progress bar, a checkpoint folder, a resume
        flag): passed to the function, left out of the key.
    priority : int
        Where several units could start, those of higher priority start first (a scheduling hint, out of
        the key): an experiment puts the units on its longest path first.
    """

    name: str
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    key: str
    outputs: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    priority: int = 0

    @property
    def deps(self) -> list[str]:
        """The units whose results it takes, each once, in the order its arguments name them."""
        return list(dict.fromkeys(deps_in(list(self.kwargs.values()))))

    def describe(self) -> str:
        """The unit's name and its plain inputs, for error messages."""
        plain = {k: v for k, v in self.kwargs.items() if not deps_in(v)}
        shown = ", ".join(f"{k}={_short(v)}" for k, v in plain.items())
        deps = ", ".join(self.deps)
        return f"{self.name} ({shown}{'; after ' + deps if deps else ''})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fingerprint(value: Any) -> Any:
    """A JSON-able stand-in for an argument: arrays, frames and images by content hash, paths as strings.

    An object with a ``content_key()`` method (a prepared store and lazy views of it) stands for what that
    method returns, so data that is read lazily is keyed by what it holds, not by where it is.
    """
    if isinstance(value, Dep):
        return {"dep": value.name}
    if callable(getattr(value, "content_key", None)):
        return {"content": type(value).__qualname__, "key": _fingerprint(value.content_key())}
    if hasattr(value, "dataobj") and hasattr(value, "affine"):  # a nibabel image (e.g. a mask): its voxels and grid
        return {"image": _fingerprint(np.asarray(value.dataobj)), "affine": _fingerprint(np.asarray(value.affine))}
    if isinstance(value, np.ndarray):
        return {"array": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(), "shape": list(value.shape),
                "dtype": str(value.dtype)}
    if isinstance(value, pd.DataFrame):
        return {"frame": hashlib.sha256(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()).hexdigest()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _fingerprint(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_fingerprint(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {"dataclass": type(value).__qualname__, **{k: _fingerprint(getattr(value, k)) for k in value.__dataclass_fields__}}
    return repr(value)


class Plan:
    """Units and their dependencies, in the order they were added (dependencies first)."""

    def __init__(self) -> None:
        self.units: dict[str, Unit] = {}
        self.aliases: dict[str, str] = {}  # a name added for a unit already in the plan -> that unit's name
        self._by_key: dict[str, str] = {}

    def add(self, name: str, func: Callable[..., Any], *, outputs: Iterable[str | Path] = (),
            settings: Mapping[str, Any] | None = None, priority: int = 0, **kwargs: Any) -> Dep:
        """Add a unit; returns a :class:`Dep` that later units pass as an argument (or inside a list, tuple or
        dict argument) to use its result.

        ``outputs`` are files the function writes itself (e.g. into the run directory); ``settings`` are
        arguments that do not change the result and stay out of the key; ``priority`` orders units that
        could start together (higher first; out of the key). A unit with the key of one already
        in the plan (the same function on the same inputs) is not added twice: under the same name it is
        that unit; under another, ``name`` becomes an alias of it and its result is found under both names.
        """
        deps = deps_in(list(kwargs.values()))
        missing = [d for d in deps if d not in self.units]
        if missing:
            raise ConfigError(f"unit {name!r} depends on {missing}, which are not in the plan (add them first).")
        payload = {"func": f"{func.__module__}.{func.__qualname__}", "kwargs": _fingerprint(kwargs),
                   "deps": {d: self.units[d].key for d in deps}}
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        same = self._by_key.get(key)
        if (name in self.units or name in self.aliases) and self.aliases.get(name, name) != same:
            raise ConfigError(f"two units are named {name!r}.")
        if same == name:  # the same unit added again
            return Dep(name)
        if same is not None:
            logger.debug("unit %s is %s (same function and inputs): computed once", name, same)
            self.aliases[name] = same
            return Dep(same)
        self.units[name] = Unit(name, func, dict(kwargs), key, tuple(str(p) for p in outputs), dict(settings or {}),
                                int(priority))
        self._by_key[key] = name
        return Dep(name)

    def __len__(self) -> int:
        return len(self.units)
