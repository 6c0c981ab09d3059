"""Units of work: a plan (:mod:`~syncact.units.plan`), its result store (:mod:`~syncact.units.store`) and
its executors (:mod:`~syncact.units.executors`), in-process or on Dask, resumable.

An experiment becomes a :class:`Plan` of :class:`Unit` objects (extract a model on a run's frames, pair a
model x layer x run, ...). Each unit is a top-level function with plain keyword arguments; arguments
that are :class:`Dep` take the result of another unit. A unit's **key** is a SHA-256 of its function,
its arguments and its dependencies' keys, so a changed input changes the key of the unit and of
everything downstream.

Each finished unit's result is written atomically to ``<store>/<name>.<key[:16]>.<ext>`` (Parquet for a
DataFrame, ``.npz`` for arrays, pickle otherwise). A rerun loads finished results instead of computing
them; a run killed at any point resumes to the results of one that was never interrupted, because a
result is either absent or complete. On Dask, units pass results to one another through the store
(:func:`execute_stored`): the scheduler orders them, and the driver reads what it uses
(:class:`StoredResults`). One failing unit does not stop the others: :func:`run_plan` finishes every
unit that does not depend on it, then raises :class:`UnitsFailed` naming each failed unit, its error and
its inputs. A :class:`Session` (``executor.session(store)``) keeps one client for a
whole experiment: units are submitted as the driver learns of them, join one graph, and start as soon as
their dependencies are done.

Executors (:class:`Executor`, passed to every place that runs work):

- ``Executor()`` (default): in this process, units in dependency order;
- ``Executor(workers=N)``: a ``distributed.LocalCluster`` of N single-threaded worker processes;
- ``Executor(scheduler="tcp://host:8786")``: an existing Dask scheduler (e.g. dask-jobqueue's ``SLURMCluster``).

Dask needs the ``distributed`` extra (``pip install syncact[distributed]``).
"""

from syncact.units.executors import Executor, Failure, PlanResult, Session, StoredResults, UnitsFailed, run_plan
from syncact.units.plan import Dep, Plan, Unit
from syncact.units.store import RUN_RECORD, execute_stored, execute_unit, list_units, prune_units, record_run, stale_units

__all__ = ["RUN_RECORD", "Dep", "Executor", "Failure", "Plan", "PlanResult", "Session", "StoredResults", "Unit", "UnitsFailed",
           "execute_stored", "execute_unit", "list_units", "prune_units", "record_run", "run_plan", "stale_units"]
