"""A provenance cache of filter activations: xarray on Zarr, one store per (frames, model, layer, reducer).

The key is the SHA-256 of everything that changes the numbers: the frames (their bytes, shape and dtype),
the model name and the digest of its exact weights, the hooked module and its post function, the
reducer, the preprocessing (input size, normalisation, resize policy), the numeric precision,
whether batch norms were folded and the memory layout (both change the rounding), plus the cache format
version. The full key is stored in the store's
attributes and compared on every read, so a changed parameter can never return a stale result
(brain-score issue #2503 is what happens otherwise).

Layout::

    <root>/<model>/<weights label>/<layer alias>-<reducer>-<hash[:16]>.zarr
        activation (time, filter) float32, attrs: key (JSON), created, syncact/torch versions

Stores are written to a temporary sibling and renamed into place, so a killed run leaves no half store.
A store that cannot be read is reported, moved aside (``*.corrupt-<time>``) and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
ENV_VAR = "SYNCACT_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$SYNCACT_CACHE_DIR``, else ``$XDG_CACHE_HOME/syncact/activations``, else ``~/.cache/syncact/activations``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "syncact" / "activations"


def frames_digest(images: np.ndarray) -> str:
    """SHA-256 of a frame array (shape, dtype and bytes), hashed frame by frame without a copy of the whole."""
    h = hashlib.sha256(f"{images.shape}|{images.dtype}|".encode())
    for frame in images:
        h.update(np.ascontiguousarray(frame).data)
    return h.hexdigest()


def key_digest(key: Mapping[str, object]) -> str:
    """SHA-256 of a key's canonical JSON."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


class ActivationCache:
    """Read and write cached activations under ``root``.

    Parameters
    ----------
    root : str or Path
        Cache directory, created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"ActivationCache({str(self.root)!r})"

    def path(self, key: Mapping[str, object], *, model: str, weights_label: str, layer: str) -> Path:
        """Where the store of ``key`` lives (the names are for people; the hash decides)."""
        name = f"{_safe(layer)}-{_safe(str(key.get('reducer', '')))}-{key_digest(key)[:16]}.zarr"
        return self.root / _safe(model) / _safe(weights_label) / name

    def load(self, path: Path, key: Mapping[str, object]) -> np.ndarray | None:
        """The cached (time, filter) array at ``path`` if its stored key equals ``key``; None otherwise."""
        if not path.exists():
            return None
        import xarray as xr

        try:
            with xr.open_zarr(path, consolidated=False) as ds:
                stored = json.loads(ds.attrs["key"])
                if stored != json.loads(json.dumps(key, default=str)):
                    logger.info("cache entry %s has another key; recomputing", path)
                    return None
                return np.asarray(ds["activation"].values, dtype=np.float32)
        except Exception as exc:  # a truncated or foreign store: keep it for inspection, recompute
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            warnings.warn(f"activation cache entry {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); "
                          f"moved it to {aside.name} and recomputing.", RuntimeWarning, stacklevel=3)
            os.replace(path, aside)
            return None

    def store(self, path: Path, key: Mapping[str, object], array: np.ndarray, attrs: Mapping[str, object] | None = None) -> Path:
        """Write ``array`` of shape (time, filter) with its key, atomically (temporary store, then rename)."""
        import xarray as xr

        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"cached activations must be (time, filter), got shape {array.shape}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        meta = {"key": json.dumps(key, sort_keys=True, default=str), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        meta.update({k: json.dumps(v, default=str) for k, v in (attrs or {}).items()})
        ds = xr.Dataset({"activation": (("time", "filter"), array)},
                        coords={"time": np.arange(array.shape[0]), "filter": np.arange(array.shape[1])}, attrs=meta)
        try:
            ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
            try:
                os.rename(tmp, path)
            except OSError:  # another process stored the same key first: theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path
