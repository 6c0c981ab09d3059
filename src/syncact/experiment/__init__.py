"""A Sync-ACT run: its stages, its typed result, its run directory and its report.

Rooms, bottom to top (imports go downwards only; ``tests/test_layers.py`` holds it):

- :mod:`~syncact.experiment.provenance`: :class:`Provenance` (versions, hashes, inputs' keys, wall time, memory);
- :mod:`~syncact.experiment.findings`: the report's summary, every number quoted from a run table;
- :mod:`~syncact.experiment.result`: :class:`ExperimentResult`, :class:`PairingKey`, :class:`PairCard`;
- :mod:`~syncact.experiment.layout`: :class:`RunDirectory`, the one writer of the run-directory layout;
- :mod:`~syncact.experiment.units`: the unit functions (frames, extraction, pairing) the executor runs;
- :mod:`~syncact.experiment.methods`: a methods section written from what the run did;
- :mod:`~syncact.experiment.stages`: one function per stage, inputs to pairing;
- :mod:`~syncact.experiment.truth`, :mod:`~syncact.experiment.annotation`, :mod:`~syncact.experiment.sweep`,
  :mod:`~syncact.experiment.cards`: the optional stages;
- :mod:`~syncact.experiment.report`: the HTML page of a run (reads the result and the run directory);
- :mod:`~syncact.experiment.run`: :func:`run_experiment`, the stages in order.
"""

from syncact.experiment.findings import Findings, findings, read_tables
from syncact.experiment.layout import RunDirectory
from syncact.experiment.provenance import Provenance
from syncact.experiment.result import ExperimentResult, PairCard, PairingKey
from syncact.experiment.run import run_experiment

__all__ = ["ExperimentResult", "Findings", "PairCard", "PairingKey", "Provenance", "RunDirectory", "findings",
           "read_tables", "run_experiment"]
