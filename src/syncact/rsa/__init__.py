"""Representational similarity analysis (the second seed method).

RDMs per layer and their comparison (:mod:`~syncact.rsa.rdm`), whole-brain searchlight RSA with a
max-statistic permutation test (:mod:`~syncact.rsa.searchlight`; geodesic discs on grayordinates:
:mod:`~syncact.rsa.surface`), the residual method
(:mod:`~syncact.rsa.residual`) and layer-orthogonal image synthesis (:mod:`~syncact.rsa.synthesis`,
imported on use: it needs torch).
"""

from syncact.rsa.rdm import (
    COMPARISONS,
    METRICS,
    LayerRDMs,
    compare_rdms,
    image_rdms,
    layer_rdms,
    rdm_vector,
    square,
)
from syncact.rsa.residual import ResidualRDMs, residual_rdms, residualize
from syncact.rsa.searchlight import (
    SearchlightMaps,
    Spheres,
    permuted_pairs,
    searchlight_rdms,
    searchlight_rsa,
    sphere_neighbourhoods,
)
from syncact.rsa.surface import geodesic_discs, grayordinate_neighbourhoods, mesh_graph

__all__ = [
    "COMPARISONS",
    "METRICS",
    "LayerRDMs",
    "ResidualRDMs",
    "SearchlightMaps",
    "Spheres",
    "compare_rdms",
    "geodesic_discs",
    "grayordinate_neighbourhoods",
    "image_rdms",
    "layer_rdms",
    "mesh_graph",
    "permuted_pairs",
    "rdm_vector",
    "residual_rdms",
    "residualize",
    "searchlight_rdms",
    "searchlight_rsa",
    "sphere_neighbourhoods",
    "square",
]
