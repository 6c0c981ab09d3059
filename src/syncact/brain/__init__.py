"""Brain side: find and prepare BOLD runs in any layout, and learn functional brain networks (FBNs)."""

from syncact.brain.decomposition import (
    DictionaryLearning,
    GroupICA,
    GroupPCA,
    SharedResponse,
    make_networks,
    method_names,
    network_spec,
)
from syncact.brain.embedding import FBNEmbedding, TrainingHistory, init_distributed, split_subjects
from syncact.brain.io import BoldRun, inspect_run
from syncact.brain.layouts import DatasetInfo, RunSource, detect_layout, scan_dataset
from syncact.brain.masking import remove_drift, zscore_voxels
from syncact.brain.networks import BrainNetworks
from syncact.brain.prepare import PreparedStore, Segment, StoreRuns, prepare_dataset

__all__ = [
    "BoldRun",
    "BrainNetworks",
    "DictionaryLearning",
    "GroupICA",
    "GroupPCA",
    "SharedResponse",
    "TrainingHistory",
    "make_networks",
    "network_spec",
    "method_names",
    "DatasetInfo",
    "FBNEmbedding",
    "PreparedStore",
    "RunSource",
    "Segment",
    "StoreRuns",
    "detect_layout",
    "init_distributed",
    "inspect_run",
    "prepare_dataset",
    "remove_drift",
    "scan_dataset",
    "split_subjects",
    "zscore_voxels",
]
