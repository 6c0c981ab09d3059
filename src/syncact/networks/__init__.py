"""Functional brain networks (FBNs) learned from prepared runs: the Sync-ACT embedding, its identification,
and the baselines (group ICA, dictionary learning, PCA, the shared response model), all scikit-learn
estimators under one interface (:class:`BrainNetworks`: ``fit``, ``maps_``, ``transform``)."""

from syncact.networks.base import BrainNetworks, LinearNetworks
from syncact.networks.decomposition import (
    DictionaryLearning,
    GroupICA,
    GroupPCA,
    SharedResponse,
    make_networks,
    method_names,
    network_spec,
)
from syncact.networks.embedding import FBNEmbedding
from syncact.networks.training import TrainingHistory, init_distributed, split_subjects

__all__ = ["BrainNetworks", "DictionaryLearning", "FBNEmbedding", "GroupICA", "GroupPCA", "LinearNetworks",
           "SharedResponse", "TrainingHistory", "init_distributed", "make_networks", "method_names", "network_spec",
           "split_subjects"]
