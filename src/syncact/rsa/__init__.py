"""Representational similarity analysis: RDMs per layer and their comparison (the second seed method)."""

from syncact.rsa.rdm import COMPARISONS, METRICS, LayerRDMs, compare_rdms, layer_rdms, rdm_vector, square

__all__ = ["COMPARISONS", "METRICS", "LayerRDMs", "compare_rdms", "layer_rdms", "rdm_vector", "square"]
