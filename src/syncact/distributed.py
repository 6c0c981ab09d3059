"""Independent units of work with explicit dependencies, run in-process or on Dask, resumable.

An experiment becomes a :class:`Plan` of :class:`Unit` objects (extract a model on a run's frames, pair a
model x layer x run, ...). Each unit is a top-level function with plain keyword arguments; arguments
that are :class:`Dep` take the result of another unit. A unit's **key** is a SHA-256 of its function,
its arguments and its dependencies' keys, so a changed input changes the key of the unit and of
everything downstream.

Each finished unit's result is written atomically to ``<store>/<name>.<key[:16]>.<ext>`` (Parquet for a
DataFrame, ``.npz`` for arrays, pickle otherwise). A rerun loads finished results instead of computing
them; a run killed at any point resumes to the results of one that was never interrupted, because a
result is either absent or complete. One failing unit does not stop the others: :func:`run_plan`
finishes every unit that does not depend on it, then raises :class:`UnitsFailed` naming each failed
unit, its error and its inputs.

Executors:

- ``None`` (default): in this process, units in dependency order;
- ``workers=N``: a ``distributed.LocalCluster`` of N single-threaded worker processes;
- ``scheduler="tcp://host:8786"``: an existing Dask scheduler (e.g. from dask-jobqueue's ``SLURMCluster``).

Dask needs the ``distributed`` extra (``pip install syncact[distributed]``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from syncact._io import atomic_path, bar_disabled
from syncact.exceptions import ConfigError, SyncactError

logger = logging.getLogger(__name__)

SCATTER_BYTES = 1 << 20
"""Arrays larger than this are sent to the Dask workers once and shared by the units that use them."""


@dataclass(frozen=True)
class Dep:
    """An argument that takes the result of the unit named ``name``."""

    name: str


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
    """

    name: str
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    key: str
    outputs: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def deps(self) -> list[str]:
        return [v.name for v in self.kwargs.values() if isinstance(v, Dep)]

    def describe(self) -> str:
        """The unit's name and its plain inputs, for error messages."""
        plain = {k: v for k, v in self.kwargs.items() if not isinstance(v, Dep)}
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
            settings: Mapping[str, Any] | None = None, **kwargs: Any) -> Dep:
        """Add a unit; returns a :class:`Dep` that later units pass as an argument to use its result.

        ``outputs`` are files the function writes itself (e.g. into the run directory); ``settings`` are
        arguments that do not change the result and stay out of the key. A unit with the key of one already
        in the plan (the same function on the same inputs) is not added twice: under the same name it is
        that unit; under another, ``name`` becomes an alias of it and its result is found under both names.
        """
        missing = [v.name for v in kwargs.values() if isinstance(v, Dep) and v.name not in self.units]
        if missing:
            raise ConfigError(f"unit {name!r} depends on {missing}, which are not in the plan (add them first).")
        payload = {"func": f"{func.__module__}.{func.__qualname__}", "kwargs": _fingerprint(kwargs),
                   "deps": {d.name: self.units[d.name].key for d in kwargs.values() if isinstance(d, Dep)}}
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
        self.units[name] = Unit(name, func, dict(kwargs), key, tuple(str(p) for p in outputs), dict(settings or {}))
        self._by_key[key] = name
        return Dep(name)

    def __len__(self) -> int:
        return len(self.units)


# ------------------------------------------------------------------------------------------------------
# Results on disk
# ------------------------------------------------------------------------------------------------------
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


def _read(path: Path) -> Any:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - our own results, written by _write


def execute_unit(unit: Unit, store: str, shipped: Mapping[str, Any] | None = None, *dep_results: Any) -> Any:
    """Load a unit's finished result, or compute it from its dependencies' results and write it atomically.

    Runs on a worker; ``dep_results`` come in the order of ``unit.deps``; ``shipped`` holds arguments sent
    to the workers once (large arrays) in place of the unit's own copies.
    """
    store_path = Path(store)
    found = _find(store_path, unit)
    if found is not None:
        os.utime(found)  # used now: prune_units keeps what the last run used
        return _read(found)
    results = dict(zip(unit.deps, dep_results, strict=True))
    kwargs = {k: results[v.name] if isinstance(v, Dep) else v for k, v in unit.kwargs.items()}
    kwargs.update(shipped or {})
    result = unit.func(**kwargs, **unit.settings)
    _write(store_path, unit, result)
    return result


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


# ------------------------------------------------------------------------------------------------------
# Running a plan
# ------------------------------------------------------------------------------------------------------
@dataclass
class Failure:
    """A unit that raised (or could not run because a dependency failed)."""

    unit: str
    inputs: str
    error: str
    traceback: str = ""
    exception: BaseException | None = None  # what the unit raised (None when a dependency failed)


class UnitsFailed(SyncactError, RuntimeError):
    """Some units failed; the others' results were kept."""

    def __init__(self, failures: list[Failure], done: int) -> None:
        self.failures = failures
        lines = [f"{len(failures)} unit(s) failed ({done} finished and kept; rerun to resume):"]
        lines += [f"  {f.inputs}: {f.error}" for f in failures[:10]]
        super().__init__("\n".join(lines))


@dataclass
class PlanResult:
    """Results of every unit by name, and how the run went."""

    results: dict[str, Any]
    reused: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.results[self.aliases.get(name, name)]


def run_plan(plan: Plan, store: str | Path, *, workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> PlanResult:
    """Run every unit of a plan (reusing finished ones) and return their results.

    Parameters
    ----------
    plan : Plan
    store : path
        Folder of unit results (created).
    workers : int, optional
        Run on a new ``distributed.LocalCluster`` of this many worker processes (one thread each).
    scheduler : str, optional
        Address of an existing Dask scheduler. Workers must see ``store`` at the same path (shared disk).
    progress : bool, default=True
        A progress bar over units: done / running / failed.

    Returns
    -------
    PlanResult

    Raises
    ------
    UnitsFailed
        After every unit that could run has run, naming each failed unit and its inputs.
    """
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    if workers is not None and scheduler is not None:
        raise ConfigError("give workers (a new local cluster) or scheduler (an existing one), not both.")
    reused = [name for name, unit in plan.units.items() if _find(store, unit) is not None]
    if workers is None and scheduler is None:
        return _run_serial(plan, store, reused, progress)
    return _run_dask(plan, store, reused, workers, scheduler, progress)


@dataclass(frozen=True)
class Executor:
    """Where units run: in this process (default), on a new local Dask cluster, or on an existing scheduler.

    One object travels to every place that runs work, instead of a ``workers``/``scheduler`` pair.

    Parameters
    ----------
    workers : int, optional
        A new ``distributed.LocalCluster`` of this many single-threaded worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (workers must see the unit store at the same path).
    """

    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ConfigError("give workers (a new local cluster) or scheduler (an existing one), not both.")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ConfigError(f"workers must be a positive integer, got {self.workers!r}.")

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.scheduler is None

    def run(self, plan: Plan, store: str | Path, *, progress: bool = True) -> PlanResult:
        """:func:`run_plan` on this executor."""
        return run_plan(plan, store, workers=self.workers, scheduler=self.scheduler, progress=progress)


def _run_serial(plan: Plan, store: Path, reused: list[str], progress: bool) -> PlanResult:
    results: dict[str, Any] = {}
    failures: list[Failure] = []
    failed: set[str] = set()
    bar = tqdm(total=len(plan), desc="units", unit="unit", disable=bar_disabled(progress), leave=False)
    for name, unit in plan.units.items():
        blocked = [d for d in unit.deps if d in failed]
        if blocked:
            failed.add(name)
            failures.append(Failure(name, unit.describe(), f"not run: {blocked[0]} failed"))
        else:
            try:
                results[name] = execute_unit(unit, str(store), None, *[results[d] for d in unit.deps])
            except Exception as exc:  # one unit's failure must not lose the others
                failed.add(name)
                failures.append(Failure(name, unit.describe(), f"{type(exc).__name__}: {exc}", traceback.format_exc(), exc))
                logger.error("unit %s failed: %s", name, exc)
        bar.update(1)
        bar.set_postfix(failed=len(failures))
    bar.close()
    if failures:
        raise UnitsFailed(failures, len(results))
    computed = [n for n in plan.units if n not in reused]
    return PlanResult(results, reused, computed, dict(plan.aliases))


def _client(workers: int | None, scheduler: str | None):  # noqa: ANN202
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("running on Dask needs the distributed package: pip install 'syncact[distributed]'") from exc
    if scheduler is not None:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1")
    return Client(cluster), cluster


def _run_dask(plan: Plan, store: Path, reused: list[str], workers: int | None, scheduler: str | None,
              progress: bool) -> PlanResult:
    from distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        futures: dict[str, Any] = {}
        scattered: dict[int, Any] = {}  # large arrays go to the workers once, not inside every task
        for name, unit in plan.units.items():
            big = {k: v for k, v in unit.kwargs.items() if isinstance(v, np.ndarray) and v.nbytes > SCATTER_BYTES}
            for value in big.values():
                if id(value) not in scattered:
                    scattered[id(value)] = client.scatter(value, broadcast=False)
            light = replace(unit, kwargs={k: None if k in big else v for k, v in unit.kwargs.items()})
            shipped = {k: scattered[id(v)] for k, v in big.items()}
            futures[name] = client.submit(execute_unit, light, str(store), shipped, *[futures[d] for d in unit.deps],
                                          key=f"{name}-{unit.key[:16]}", pure=False)
        by_key = {f.key: name for name, f in futures.items()}
        results: dict[str, Any] = {}
        failures: list[Failure] = []
        bar = tqdm(total=len(plan), desc="units", unit="unit", disable=bar_disabled(progress), leave=False)
        for future in as_completed(list(futures.values())):
            name = by_key[future.key]
            unit = plan.units[name]
            if future.status == "finished":
                results[name] = future.result()
            else:
                exc = future.exception()
                upstream = [d for d in unit.deps if futures[d].status != "finished"]
                message = f"not run: {upstream[0]} failed" if upstream else f"{type(exc).__name__}: {exc}"
                failures.append(Failure(name, unit.describe(), message, "".join(traceback.format_exception(exc)),
                                        None if upstream else exc))
            bar.update(1)
            running = sum(1 for f in futures.values() if f.status == "pending")
            bar.set_postfix(running=running, failed=len(failures))
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if failures:
        order = list(plan.units)
        failures.sort(key=lambda f: order.index(f.unit))
        raise UnitsFailed(failures, len(results))
    computed = [n for n in plan.units if n not in reused]
    return PlanResult({n: results[n] for n in plan.units}, reused, computed, dict(plan.aliases))

