"""Spatial reducers: one number per filter and frame, computed inside the forward hook.

A reducer takes a layer output of shape (batch, channels, *spatial) and returns (batch, channels). It
runs on the model's device right after the layer, so only O(channels) numbers per frame leave the hook,
whatever the feature-map size or the movie length.

Reducers are named by a short string so they can be written in a config file and be part of a cache key:

=============  ==================================================================================
``"max"``      spatial maximum (the paper's filter activation)
``"mean"``     spatial mean (global average pooling)
``"topk:K"``   mean of the K largest values (``"topk"`` alone means K=5); between max and mean,
               less sensitive to a single hot pixel than the max
``"l2"``       root mean square over positions (the L2 norm divided by sqrt(n_positions), so the
               value does not depend on the input size)
=============  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from syncact._validation import close_matches
from syncact.exceptions import ConfigError, UnknownNameError

DEFAULT_TOPK = 5


def reduce_max(x: torch.Tensor) -> torch.Tensor:
    """Spatial maximum. ``x`` of shape (batch, channels, *spatial) -> (batch, channels)."""
    return x.flatten(2).amax(dim=2)


def reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Spatial mean, accumulated in float32 whatever the input dtype."""
    return x.flatten(2).mean(dim=2, dtype=torch.float32)


def reduce_l2(x: torch.Tensor) -> torch.Tensor:
    """Root mean square over positions, accumulated in float32."""
    flat = x.flatten(2).float()
    return flat.square().mean(dim=2).sqrt()


def reduce_topk_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of the ``k`` largest values per channel (all values when a map has fewer than ``k``)."""
    flat = x.flatten(2)
    k = min(k, flat.shape[2])
    return flat.topk(k, dim=2, sorted=False).values.mean(dim=2, dtype=torch.float32)


@dataclass(frozen=True)
class Reducer:
    """A named spatial reduction.

    Attributes
    ----------
    spec : str
        The canonical name (``"max"``, ``"mean"``, ``"l2"``, ``"topk:5"``); part of cache keys.
    fn : callable
        ``fn(x)`` with ``x`` of shape (batch, channels, *spatial) returning (batch, channels).
    """

    spec: str
    fn: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3:
            raise ValueError(f"reducer {self.spec!r} needs (batch, channels, *spatial), got a tensor of shape {tuple(x.shape)}.")
        return self.fn(x)


def _topk(arg: str | None) -> Reducer:
    if arg is None:
        k = DEFAULT_TOPK
    else:
        try:
            k = int(arg)
        except ValueError:
            raise ConfigError(f"reducer 'topk:{arg}': K must be a positive integer, e.g. 'topk:5'.") from None
        if k < 1:
            raise ConfigError(f"reducer 'topk:{arg}': K must be >= 1, e.g. 'topk:5'.")
    return Reducer(f"topk:{k}", lambda x: reduce_topk_mean(x, k))


def _plain(name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[str | None], Reducer]:
    def make(arg: str | None) -> Reducer:
        if arg is not None:
            raise ConfigError(f"reducer {name!r} takes no parameter, got {name}:{arg}.")
        return Reducer(name, fn)

    return make


#: Reducer factories by name; ``make(arg)`` gets the text after ":" (or None).
REDUCERS: dict[str, Callable[[str | None], Reducer]] = {
    "max": _plain("max", reduce_max),
    "mean": _plain("mean", reduce_mean),
    "l2": _plain("l2", reduce_l2),
    "topk": _topk,
}


def get_reducer(spec: str | Reducer) -> Reducer:
    """Parse a reducer name such as ``"max"`` or ``"topk:10"``.

    Parameters
    ----------
    spec : str or Reducer

    Returns
    -------
    Reducer
        With a canonical ``spec`` (``"topk"`` becomes ``"topk:5"``).
    """
    if isinstance(spec, Reducer):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"reduce must be a string such as 'max' or 'topk:5', got {type(spec).__name__} {spec!r}.")
    name, sep, arg = spec.partition(":")
    if name not in REDUCERS:
        known = ", ".join(["max", "mean", "l2", "topk:K"])
        raise UnknownNameError(f"reduce={spec!r} is not known.{close_matches(name, REDUCERS)} Choose one of: {known}.")
    return REDUCERS[name](arg if sep else None)
