"""Brain side: find and prepare BOLD runs in any layout, and learn functional brain networks (FBNs)."""

from syncact.brain.embedding import FBNEmbedding, split_subjects
from syncact.brain.io import BoldRun, find_bids_runs, load_run_matrix
from syncact.brain.layouts import DatasetInfo, RunSource, detect_layout, scan_dataset
from syncact.brain.masking import build_mask, remove_drift, zscore_voxels
from syncact.brain.prepare import PreparedStore, Segment, prepare_dataset

__all__ = [
    "BoldRun",
    "DatasetInfo",
    "FBNEmbedding",
    "PreparedStore",
    "RunSource",
    "Segment",
    "build_mask",
    "detect_layout",
    "find_bids_runs",
    "load_run_matrix",
    "prepare_dataset",
    "remove_drift",
    "scan_dataset",
    "split_subjects",
    "zscore_voxels",
]
