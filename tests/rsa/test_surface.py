"""Surface searchlight: discs against an independent shortest-path reference and exact geodesics on the fsLR sphere,
the searchlight on discs against a direct per-disc computation, and a layer planted in a real Glasser area found."""

import networkx as nx
import numpy as np
import pytest
from nibabel.cifti2 import cifti2_axes as ax
from scipy import stats
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import pdist

from syncact.brain.cifti import fslr_surface, standard_vertices
from syncact.exceptions import DataError
from syncact.rsa import rdm_vector
from syncact.rsa.searchlight import searchlight_rdms, searchlight_rsa
from syncact.rsa.surface import geodesic_discs, grayordinate_neighbourhoods, mesh_graph

LEFT = "CIFTI_STRUCTURE_CORTEX_LEFT"


@pytest.fixture(scope="module")
def left_cortex():
    """The left hemisphere's standard grayordinates (29,696 fsLR 32k vertices, no medial wall) and a block of 512
    subcortical voxels on a 2 mm grid."""
    vertices = standard_vertices()[LEFT]
    models = (ax.BrainModelAxis.from_surface(vertices, 32492, name="CortexLeft")
              + ax.BrainModelAxis.from_mask(np.ones((8, 8, 8), bool), affine=np.diag([2.0, 2.0, 2.0, 1.0]),
                                            name="ThalamusLeft"))
    return models, grayordinate_neighbourhoods(models, 6.0)


def test_discs_are_the_shortest_paths_within_the_radius_and_never_cross_the_medial_wall(left_cortex, rng):
    """Members of a disc = the vertices a networkx Dijkstra (on a graph built here from the faces, the medial wall
    left out) reaches within 6 mm; a 3-D ball of the same radius holds more (it jumps across sulci)."""
    models, spheres = left_cortex
    coords, faces = fslr_surface("left", "midthickness")
    vertices = standard_vertices()[LEFT]
    graph = nx.Graph()
    grey = set(vertices.tolist())
    for a, b, c in faces:
        pairs = [(a, b), (b, c), (c, a)]
        graph.add_edges_from((int(u), int(v), {"w": float(np.linalg.norm(coords[u] - coords[v]))})
                             for u, v in pairs if u in grey and v in grey)
    edge = {}  # the diagonal of two triangles sharing an edge
    for face in faces:
        for k in range(3):
            key = tuple(sorted((int(face[k]), int(face[(k + 1) % 3]))))
            edge.setdefault(key, []).append(int(face[(k + 2) % 3]))
    graph.add_edges_from((u, v, {"w": float(np.linalg.norm(coords[u] - coords[v]))})
                         for pair in edge.values() if len(pair) == 2 for u, v in [pair] if u in grey and v in grey)
    column = {int(v): i for i, v in enumerate(vertices)}
    centre_of = {int(c): s for s, c in enumerate(spheres.centers)}
    wider = 0
    for centre in rng.choice(len(vertices), 25, replace=False):
        if centre not in centre_of:
            continue
        reach = nx.single_source_dijkstra_path_length(graph, int(vertices[centre]), cutoff=6.0, weight="w")
        expected = sorted(column[v] for v, d in reach.items() if d <= 6.0)
        members = spheres.members(centre_of[centre])
        assert members.tolist() == expected
        ball = np.linalg.norm(coords[vertices] - coords[vertices[centre]], axis=1) <= 6.0
        assert ball[members].all()  # a disc lies inside the ball (surface paths are at least the chord)
        wider += ball.sum() > members.size
    assert wider >= 1
    volume = np.flatnonzero(models.volume_mask)
    sub = [s for s, c in enumerate(spheres.centers) if c in set(volume.tolist())]
    assert sub and all(np.isin(spheres.members(s), volume).all() for s in sub)  # spheres stay in the subcortex


def test_discs_cover_the_exact_geodesic_disc_on_the_sphere(rng):
    """On the fsLR sphere (radius 100 mm) the exact geodesic is the great-circle distance: a disc never holds a
    vertex beyond the radius (by more than 0.01 %: a diagonal's chord is a hair shorter than its arc) and holds >= 90 %
    of the exact disc (edge paths alone: about 70 %)."""
    coords, faces = fslr_surface("left", "sphere")
    radius = np.linalg.norm(coords, axis=1).mean()
    unit = coords / np.linalg.norm(coords, axis=1, keepdims=True)
    centres = rng.choice(len(coords), 40, replace=False)
    graph = mesh_graph(coords, faces)
    cover = []
    for r in (6.0, 10.0):
        for c in centres:
            great = radius * np.arccos(np.clip(unit @ unit[c], -1, 1))
            disc = dijkstra(graph, indices=[c], limit=r + 1e-9)[0] <= r
            assert great[disc].max() <= r * 1.0001
            cover.append(disc.sum() / (great <= r).sum())
    assert np.median(cover) >= 0.9 and np.min(cover) >= 0.8
    indptr, indices = geodesic_discs(graph[:500][:, :500], 4.0)
    assert indptr.size == 501 and all(v in indices[indptr[v]:indptr[v + 1]] for v in range(500))


def test_searchlight_on_discs_equals_a_direct_per_disc_computation(left_cortex, rng):
    models, spheres = left_cortex
    patterns = rng.normal(size=(9, models.size))
    model_rdm = rdm_vector(rng.normal(size=(9, 5)))
    maps = searchlight_rsa(patterns, spheres, model_rdm[None], layers=["a"], n_perm=0)
    rdms = searchlight_rdms(patterns, spheres)
    for s in rng.choice(spheres.n_spheres, 200, replace=False):
        direct = pdist(patterns[:, spheres.members(s)], "correlation")
        np.testing.assert_allclose(rdms[s], direct, atol=1e-8)
        assert maps.similarity[0, s] == pytest.approx(stats.spearmanr(direct, model_rdm)[0], abs=1e-8)


def test_a_layer_planted_in_v1_is_found_there(rng):
    """Patterns encode layer "a" in the left V1 (Glasser MMP) only: the significant discs of "a" lie in and around
    V1 and cover most of it; layer "b" (unrelated features) finds nothing."""
    from syncact.annotate.parcellations import Parcellation

    mmp = Parcellation.load("mmp")
    vertices = standard_vertices()[LEFT]
    labels = mmp.labels[: vertices.size]  # the left cortex comes first in the standard order
    v1 = labels == mmp.parcels.index("L_V1")
    models = ax.BrainModelAxis.from_surface(vertices, 32492, name="CortexLeft")
    n = 16
    features = rng.normal(size=(2, n, 12))
    patterns = rng.normal(size=(n, vertices.size))
    patterns[:, v1] += 2.0 * features[0] @ rng.normal(size=(12, v1.sum())) / np.sqrt(12)
    spheres = grayordinate_neighbourhoods(models, 6.0)
    maps = searchlight_rsa(patterns, spheres, np.stack([rdm_vector(f) for f in features]), layers=["a", "b"],
                           n_perm=100, seed=0)
    sig = maps.significant(0.05)
    centres_in_v1 = v1[spheres.centers]
    assert sig[0][centres_in_v1].mean() >= 0.6
    near = np.array([v1[spheres.members(s)].any() for s in range(spheres.n_spheres)])
    assert sig[0].sum() > 0 and near[sig[0]].all()  # every hit touches V1
    assert sig[1].sum() <= 0.01 * spheres.n_spheres


def test_other_meshes_are_refused():
    models = ax.BrainModelAxis.from_surface(np.arange(40), 60, name="CortexLeft")
    with pytest.raises(DataError, match="fsLR 32k"):
        grayordinate_neighbourhoods(models, 6.0)
