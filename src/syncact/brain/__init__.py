"""Brain side: load BOLD runs, mask and standardise them, and learn functional brain networks (FBNs)."""

from syncact.brain.embedding import FBNEmbedding, split_subjects
from syncact.brain.io import BoldRun, find_bids_runs, load_run_matrix
from syncact.brain.masking import build_mask, remove_drift, zscore_voxels

__all__ = [
    "BoldRun",
    "FBNEmbedding",
    "build_mask",
    "find_bids_runs",
    "load_run_matrix",
    "remove_drift",
    "split_subjects",
    "zscore_voxels",
]
