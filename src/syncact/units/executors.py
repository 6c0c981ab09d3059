"""Running a plan: in this process, on a new local Dask cluster, or on an existing scheduler.

One failing unit does not stop the others: :func:`run_plan` finishes every unit that does not depend on
it, then raises :class:`UnitsFailed` naming each failed unit, its error and its inputs.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact.exceptions import ConfigError, SyncactError
from syncact.units.plan import Plan
from syncact.units.store import _find, execute_unit

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
    Executor(workers=workers, scheduler=scheduler)  # the one check of the pair, before anything is written
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
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
