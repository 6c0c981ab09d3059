"""fMRI data: find BOLD runs in any layout, check them, and prepare them into a store the networks read.

Functional brain networks learned from these runs live in :mod:`syncact.networks`.
"""

from syncact.brain.io import RunSource, inspect_run
from syncact.brain.layouts import DatasetInfo, detect_layout, scan_dataset
from syncact.brain.masking import remove_drift, zscore_voxels
from syncact.brain.prepare import PreparedStore, Segment, StoreRuns, prepare_dataset

__all__ = ["DatasetInfo", "PreparedStore", "RunSource", "Segment", "StoreRuns", "detect_layout", "inspect_run",
           "prepare_dataset", "remove_drift", "scan_dataset", "zscore_voxels"]
