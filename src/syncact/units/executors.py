"""Running a plan: in this process, on a new local Dask cluster, or on an existing scheduler.

A :class:`Session` holds one client for as long as a driver has work: units are submitted as the driver
learns of them, start as soon as their dependencies are done (a unit may depend on one submitted
earlier), and the driver waits only for the results it needs. :func:`run_plan` is one plan in one session.
One failing unit does not stop the others: every unit that does not depend on it still runs and is kept,
then :class:`UnitsFailed` names each failed unit, its error and its inputs.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact.exceptions import ConfigError, SyncactError
from syncact.units.plan import Plan, Unit
from syncact.units.store import _find, execute_stored, execute_unit, read_result

logger = logging.getLogger(__name__)

SCATTER_BYTES = 1 << 20
"""Arrays larger than this are sent to the Dask workers once and shared by the units that use them."""


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


class StoredResults(Mapping[str, Any]):
    """Unit results by name, each read from the unit store when first used, then kept.

    On Dask results travel through the store (:func:`~syncact.units.store.execute_stored`): the driver reads
    only those it uses. Sending every result to the driver as it finished (a subspace pass's blocks are tens of
    MB each) took the workers' CPU and network for results nobody read.

    Parameters
    ----------
    store : path
        The unit store the units wrote to.
    units : dict of str to Unit
        The units whose results this holds.
    loaded : dict of str to object, optional
        Results already in memory (in-process runs, or fetched by :meth:`Session.results`).
    """

    def __init__(self, store: str | Path, units: Mapping[str, Unit], loaded: Mapping[str, Any] | None = None) -> None:
        self._store = Path(store)
        self._units = dict(units)
        self._loaded = dict(loaded or {})

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            self._loaded[name] = read_result(self._store, self._units[name])
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)


@dataclass
class PlanResult:
    """Results of every unit by name (read when used: :class:`StoredResults`), and how the run went."""

    results: Mapping[str, Any]
    reused: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    timeline: dict[str, tuple[float, float]] = field(default_factory=dict)  # unit -> (start, stop), seconds since the epoch

    def seconds(self, prefix: str = "") -> float:
        """Seconds the units whose names start with ``prefix`` ran (summed over workers; reused ones cost ~0)."""
        return float(sum(stop - start for name, (start, stop) in self.timeline.items() if name.startswith(prefix)))

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
    with Executor(workers=workers, scheduler=scheduler).session(store, progress=progress) as session:
        session.submit(plan)
        return session.finish()


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

    def session(self, store: str | Path, *, progress: bool = True) -> Session:
        """A :class:`Session` on this executor (one Dask client for all it runs); use it as a context manager."""
        return Session(self, store, progress=progress)


class Session:
    """Units submitted over time to one executor, as one graph: each starts once its dependencies are done.

    In this process a submitted unit runs at once (units come dependencies first); on Dask it is sent to the
    scheduler and the driver goes on: it waits only in :meth:`results` (for the units it needs now) and
    :meth:`finish` (for all). A unit may depend on any unit submitted before it, in this or an earlier plan.

    Parameters
    ----------
    executor : Executor
    store : path
        Folder of unit results (created).
    progress : bool, default=True
        One progress bar over every unit submitted: done / running / failed.

    Examples
    --------
    >>> with Executor(workers=2).session("units") as session:  # doctest: +SKIP
    ...     session.submit(plan)             # preparation and extraction start
    ...     store = session.results(["prepare/sub-01_run-1"])  # wait for what the next units need
    ...     session.submit(plan)             # the units added since (fits, pairings) join the same graph
    ...     done = session.finish()
    """

    def __init__(self, executor: Executor, store: str | Path, *, progress: bool = True) -> None:
        self.executor = executor
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.units: dict[str, Unit] = {}
        self.aliases: dict[str, str] = {}
        self.reused: list[str] = []
        self.results_: dict[str, Any] = {}  # results in this process (in-process runs; fetched by results())
        self._done: set[str] = set()
        self.failures: list[Failure] = []
        self._failed: set[str] = set()
        self._futures: dict[str, Any] = {}
        self._by_key: dict[str, str] = {}
        self._scattered: dict[int, Any] = {}
        self._pending = None  # distributed.as_completed over the futures not yet seen finished
        self.timeline: dict[str, tuple[float, float]] = {}  # unit -> (start, stop) of its computation
        self._bar = tqdm(total=0, desc="units", unit="unit", disable=bar_disabled(progress), leave=False)
        self._client, self._cluster = (None, None) if executor.in_process else _client(executor.workers, executor.scheduler)
        self._stream = None
        if self._client is not None:  # the scheduler's record of when each task ran, read at the end
            from distributed import get_task_stream

            self._stream = get_task_stream(client=self._client)
            self._stream.__enter__()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the progress bar and the Dask client (and the local cluster this session started)."""
        self._bar.close()
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    # submitting ----------------------------------------------------------------------------------------
    def submit(self, plan: Plan) -> None:
        """Submit the units of ``plan`` not submitted yet (a plan can grow and be submitted again)."""
        self.aliases.update(plan.aliases)
        new = [u for u in plan.units.values() if u.name not in self.units]
        for unit in new:
            unknown = [d for d in unit.deps if d not in self.units]
            if unknown:
                raise ConfigError(f"unit {unit.name!r} depends on {unknown}, which were not submitted first.")
            self.units[unit.name] = unit
            if _find(self.store, unit) is not None:
                self.reused.append(unit.name)
        self._bar.total += len(new)
        self._bar.refresh()
        for unit in new:  # in this process: at once, in the order they were added (dependencies first)
            self._start(unit)

    def _start(self, unit: Unit) -> None:
        if self._client is None:
            blocked = [d for d in unit.deps if d in self._failed]
            if blocked:
                self._fail(unit, f"not run: {blocked[0]} failed")
            else:
                start = time.time()
                try:
                    self.results_[unit.name] = execute_unit(unit, str(self.store), None,
                                                            *[self.results_[d] for d in unit.deps])
                    self._done.add(unit.name)
                    self.timeline[unit.name] = (start, time.time())
                except Exception as exc:  # one unit's failure must not lose the others
                    self._fail(unit, f"{type(exc).__name__}: {exc}", traceback.format_exc(), exc)
                    logger.error("unit %s failed: %s", unit.name, exc)
            self._tick()
            return
        from distributed import as_completed

        big = {k: v for k, v in unit.kwargs.items() if isinstance(v, np.ndarray) and v.nbytes > SCATTER_BYTES}
        for value in big.values():  # large arrays go to the workers once, not inside every task
            if id(value) not in self._scattered:
                self._scattered[id(value)] = (self._client.scatter(value, broadcast=False), value)
        light = replace(unit, kwargs={k: None if k in big else v for k, v in unit.kwargs.items()})
        shipped = {k: self._scattered[id(v)][0] for k, v in big.items()}
        deps = [replace(self.units[d], kwargs={}) for d in unit.deps]  # enough to find their results in the store
        future = self._client.submit(execute_stored, light, str(self.store), shipped, deps,
                                     *[self._futures[d] for d in unit.deps], key=f"{_kind(unit)}-{unit.key[:32]}",
                                     pure=False, priority=unit.priority)
        self._futures[unit.name] = future
        self._by_key[future.key] = unit.name
        if self._pending is None:
            self._pending = as_completed([future])
        else:
            self._pending.add(future)

    def _fail(self, unit: Unit, error: str, trace: str = "", exc: BaseException | None = None) -> None:
        self._failed.add(unit.name)
        self.failures.append(Failure(unit.name, unit.describe(), error, trace, exc))

    def _tick(self) -> None:
        self._bar.update(1)
        settled = len(self._done) + len(self._failed)
        self._bar.set_postfix(running=len(self._futures) - settled if self._futures else 0, failed=len(self.failures))

    # waiting -------------------------------------------------------------------------------------------
    def _settled(self, name: str) -> bool:
        return name in self._done or name in self._failed

    def _wait(self, names: Iterable[str]) -> None:
        wanted = {self.aliases.get(n, n) for n in names}
        unknown = sorted(wanted - set(self.units))
        if unknown:
            raise ConfigError(f"unit(s) {unknown[:5]} were not submitted.")
        while self._pending is not None and not all(self._settled(n) for n in wanted):
            self._collect(next(self._pending))

    def _collect(self, future: Any) -> None:
        name = self._by_key[future.key]
        unit = self.units[name]
        if future.status == "finished":
            self._done.add(name)  # its result is in the store, read when someone asks for it
        else:
            try:
                exc = future.exception()
            except BaseException as cancelled:  # noqa: BLE001 - a cancelled task (a lost worker, a closed client)
                exc = cancelled
            upstream = [d for d in unit.deps if self._futures[d].status != "finished"]
            trace = "".join(traceback.format_exception(exc))
            if upstream:
                self._fail(unit, f"not run: {upstream[0]} failed", trace)
            else:
                self._fail(unit, f"{type(exc).__name__}: {exc}", trace, exc)
        self._tick()

    def _raise_failures(self) -> None:
        """Let every unit that can still run finish (its result is kept), then name every failure."""
        self._wait(self.units)
        order = list(self.units)
        self.failures.sort(key=lambda f: order.index(f.unit))
        raise UnitsFailed(self.failures, len(self._done))

    def results(self, names: Iterable[str]) -> dict[str, Any]:
        """Wait for the units ``names`` (aliases too) and return their results by name.

        Raises
        ------
        UnitsFailed
            When one of them failed: first every other submitted unit that can run finishes (and is kept).
        """
        names = list(names)
        self._wait(names)
        if any(self.aliases.get(n, n) in self._failed for n in names):
            self._raise_failures()
        for name in sorted({self.aliases.get(n, n) for n in names} - set(self.results_)):  # on Dask: from the store
            self.results_[name] = read_result(self.store, self.units[name])
        return {n: self.results_[self.aliases.get(n, n)] for n in names}

    def finish(self) -> PlanResult:
        """Wait for every submitted unit; their results, or :class:`UnitsFailed` naming every failure."""
        self._wait(self.units)
        if self.failures:
            self._raise_failures()
        self._read_timeline()
        computed = [n for n in self.units if n not in self.reused]
        loaded = {n: self.results_[n] for n in self.units if n in self.results_}
        return PlanResult(StoredResults(self.store, self.units, loaded), list(self.reused), computed, dict(self.aliases),
                          dict(self.timeline))

    def _read_timeline(self) -> None:
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        stream.__exit__(None, None, None)
        for task in stream.data:
            name = self._by_key.get(task.get("key"))
            spans = [(s["start"], s["stop"]) for s in task.get("startstops", ()) if s.get("action") == "compute"]
            if name is not None and spans:
                self.timeline[name] = (min(a for a, _ in spans), max(b for _, b in spans))


def _kind(unit: Unit) -> str:
    """The start of a unit's Dask key: its function's name. Dask learns one duration per key prefix, and unit
    names (``subspace/r256/pass-1/share-0``) gave the shares and the reduce of a pass one prefix."""
    return getattr(unit.func, "__name__", type(unit.func).__name__).replace("-", "_")


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
