"""Where finished units live: ``<store>/<name>.<key[:16]>.<parquet|npz|pkl>``, written atomically.

A rerun loads a finished result instead of computing it; a run killed at any point resumes to the results
of one that was never interrupted, because a result is either absent or complete. The store also records
when the last run that used it started and finished, so results no run uses any more can be pruned.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from syncact._io import atomic_path
from syncact.exceptions import ConfigError
from syncact.units.plan import Unit, resolve

logger = logging.getLogger(__name__)


def _stem(store: Path, unit: Unit) -> Path:
    return store / f"{unit.name}.{unit.key[:16]}"


def _find(store: Path, unit: Unit) -> Path | None:
    if not all(Path(p).is_file() for p in unit.outputs):
        return None
    stem = _stem(store, unit)
    for ext in (".parquet", ".npz", ".pkl"):
        path = stem.with_name(stem.name + ext)
        if path.is_file():
            return path
    return None


def _write(store: Path, unit: Unit, result: Any) -> Path:
    stem = _stem(store, unit)
    if isinstance(result, pd.DataFrame):
        path = stem.with_name(stem.name + ".parquet")
        with atomic_path(path) as tmp:
            result.to_parquet(tmp)
    elif isinstance(result, dict) and result and all(isinstance(v, np.ndarray) for v in result.values()):
        path = stem.with_name(stem.name + ".npz")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **result)
    else:
        path = stem.with_name(stem.name + ".pkl")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def read_result(store: str | Path, unit: Unit) -> Any:
    """The stored result of a finished ``unit``; ``FileNotFoundError`` naming it when ``store`` does not hold it."""
    found = _find(Path(store), unit)
    if found is None:
        raise FileNotFoundError(f"unit {unit.name!r} has no result in {store} (was it run, or its store pruned?)")
    return _read(found)


def _read(path: Path) -> Any:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - our own results, written by _write


def _finished(store: Path, unit: Unit) -> tuple[bool, Any]:
    """``(True, result)`` when ``store`` holds the unit's readable result (marked as used), else ``(False, None)``."""
    found = _find(store, unit)
    if found is None:
        return False, None
    try:
        result = _read(found)
    except (ImportError, AttributeError, pickle.UnpicklingError, EOFError) as exc:
        # a result pickled by another version of syncact whose classes moved: computed again, not fatal
        logger.warning("unit %s: stored result %s cannot be read (%s); computing it again.", unit.name, found.name, exc)
        return False, None
    os.utime(found)  # used now: prune_units keeps what the last run used
    return True, result


def _compute(store: Path, unit: Unit, shipped: Mapping[str, Any] | None, dep_results: Sequence[Any]) -> Any:
    results = dict(zip(unit.deps, dep_results, strict=True))
    kwargs = {k: resolve(v, results) for k, v in unit.kwargs.items()}
    kwargs.update(shipped or {})
    result = unit.func(**kwargs, **unit.settings)
    _write(store, unit, result)
    return result


def execute_unit(unit: Unit, store: str, shipped: Mapping[str, Any] | None = None, *dep_results: Any) -> Any:
    """Load a unit's finished result, or compute it from its dependencies' results and write it atomically.

    ``dep_results`` come in the order of ``unit.deps``; ``shipped`` holds arguments sent to the workers once
    (large arrays) in place of the unit's own copies.
    """
    done, result = _finished(Path(store), unit)
    return result if done else _compute(Path(store), unit, shipped, dep_results)


def execute_stored(unit: Unit, store: str, shipped: Mapping[str, Any] | None, deps: Sequence[Unit], *_receipts: str) -> str:
    """:func:`execute_unit` on a Dask worker, where results travel through the store: the dependencies' results are
    read from it (``deps``: their units, in the order of ``unit.deps``) and the unit's own is left there.

    Returns the unit's name, a receipt: Dask orders units by these and carries nothing else. Carrying the results
    instead kept every result in the workers' memory for the whole run, and made Dask run a unit where its
    largest input lay (a subspace pass's 34 MB basis drew every share of the next pass to one worker of two).
    ``_receipts`` are the dependencies' receipts, passed only to make Dask wait for them.
    """
    done, _ = _finished(Path(store), unit)
    if not done:
        _compute(Path(store), unit, shipped, [read_result(store, dep) for dep in deps])
    return unit.name


# ------------------------------------------------------------------------------------------------------
# What a store holds, and pruning what the last run did not use
# ------------------------------------------------------------------------------------------------------
RUN_RECORD = ".last-run.json"
"""In a unit store: when the last run that used it started and finished (see :func:`record_run`)."""


def record_run(store: str | Path, event: str) -> None:
    """Note in ``store`` that a run using it ``"started"`` (forgetting the last one's end) or ``"finished"``."""
    from syncact import _io

    path = Path(store) / RUN_RECORD
    record = {} if event == "started" or not path.is_file() else json.loads(path.read_text())
    _io.write_json(path, {**record, event: time.time()})


def list_units(store: str | Path) -> pd.DataFrame:
    """Every unit result in a store: one row per file.

    Returns
    -------
    DataFrame
        ``unit`` (name), ``key`` (its first 16 hex digits), ``stage`` (the name's first part: prepare, frames,
        extract, subspace, embed, pair, ...), ``bytes``, ``used`` (when it was last written or reused,
        datetime) and ``path``, sorted by unit.
    """
    store = Path(store)
    rows = []
    for path in sorted(store.rglob("*.*")) if store.is_dir() else []:
        if path.name.startswith(".") or path.suffix not in (".parquet", ".npz", ".pkl") or ".tmp" in path.name:
            continue
        name, _, key = path.relative_to(store).with_suffix("").as_posix().rpartition(".")
        if not name or len(key) != 16:
            continue
        st = path.stat()
        rows.append({"unit": name, "key": key, "stage": name.split("/")[0], "bytes": st.st_size,
                     "used": pd.Timestamp(st.st_mtime, unit="s"), "path": str(path)})
    return pd.DataFrame(rows, columns=["unit", "key", "stage", "bytes", "used", "path"])


def stale_units(store: str | Path) -> pd.DataFrame:
    """The rows of :func:`list_units` that the last run did not use (older configurations' results).

    Raises
    ------
    ConfigError
        No run is recorded in the store, or the last one did not finish (units it had not reached yet would
        look stale).
    """
    path = Path(store) / RUN_RECORD
    record = json.loads(path.read_text()) if path.is_file() else {}
    if "started" not in record:
        raise ConfigError(f"{str(store)!r} records no run (no {RUN_RECORD}); run the experiment once, then prune.")
    if record.get("finished", -1.0) < record["started"]:
        raise ConfigError(f"the last run that used {str(store)!r} did not finish, so the units it had not reached yet "
                          "would look unused; finish it (run it again) before pruning.")
    units = list_units(store)
    return units[units["used"] < pd.Timestamp(record["started"], unit="s")].reset_index(drop=True)


def prune_units(store: str | Path) -> pd.DataFrame:
    """Delete the unit results the last (finished) run did not use; returns their rows (see :func:`stale_units`)."""
    stale = stale_units(store)
    for path in stale["path"]:
        Path(path).unlink(missing_ok=True)
    return stale
