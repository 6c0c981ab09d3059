"""Surface views: real HCP fsLR 32k surfaces, maps planted on real Yeo networks land where the networks are."""

import io

import numpy as np
import pytest
from nibabel.cifti2 import cifti2_axes as ax
from PIL import Image

from syncact.annotate.parcellations import Parcellation
from syncact.brain.cifti import standard_vertices
from syncact.exceptions import ShapeError
from syncact.report.surface import N_VERTICES, standard_vertex_values, surface_views


@pytest.fixture(scope="module")
def views():
    return surface_views("inflated", 160)


def _coloured(views, values):
    """Per view, the columns of the pixels whose sample carries a value >= 0.5 (what the picture colours)."""
    out = {}
    for view in views.views:
        weights = views.weights[view.hemisphere]
        per_sample = weights @ np.nan_to_num(values[view.hemisphere])
        seen = view.sample >= 0
        hot = np.zeros(view.sample.shape, dtype=bool)
        hot[seen] = per_sample[view.sample[seen]] >= 0.5
        out[view.name] = np.nonzero(hot)[1] / view.sample.shape[1]
    return out


def test_planted_networks_are_drawn_where_they_are(views):
    """Yeo's visual network is posterior in both lateral views (anterior is left in the left lateral view, right in
    the right one) and the default network reaches the medial views; the picture is a PNG with colour."""
    yeo = Parcellation.load("yeo7")
    visual = standard_vertex_values((yeo.labels == yeo.parcels.index("Visual")).astype(float))
    columns = _coloured(views, visual)
    assert columns["left lateral"].mean() > 0.7 and columns["right lateral"].mean() < 0.3
    default = _coloured(views, standard_vertex_values((yeo.labels == yeo.parcels.index("Default")).astype(float)))
    assert columns["left medial"].size > 0 and default["left medial"].size > 500
    picture = Image.open(io.BytesIO(views.picture(visual, "visual")))
    rgb = np.asarray(picture.convert("RGB")).astype(int)
    assert picture.width > 4 * 160 and ((rgb[..., 0] - rgb[..., 2]) > 100).sum() > 1000  # yellow-red pixels


def test_every_pixel_inside_the_silhouette_is_drawn_and_the_nearest_sample_wins(views):
    for view in views.views:
        drawn = view.sample >= 0
        rows = np.flatnonzero(drawn.any(axis=1))
        inner = [r for r in rows[2:-2] if drawn[r].sum() > 10]
        for r in inner[::10]:  # between a row's first and last drawn pixel there is no gap
            first, last = np.flatnonzero(drawn[r])[[0, -1]]
            assert drawn[r, first:last + 1].mean() > 0.97, (view.name, r)
        assert ((view.shade[drawn] > 0.4) & (view.shade[drawn] <= 1.0)).all()


def test_grayordinate_values_follow_the_brain_models(views, rng):
    vertices = standard_vertices()
    models = (ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_LEFT"], N_VERTICES, name="CortexLeft")
              + ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_RIGHT"], N_VERTICES, name="CortexRight"))
    values = rng.standard_normal(models.size)
    by_models, by_standard = views.vertex_values(values, models), standard_vertex_values(values)
    for hemisphere in ("left", "right"):
        np.testing.assert_array_equal(by_models[hemisphere], by_standard[hemisphere])
        assert np.isnan(by_models[hemisphere]).sum() == N_VERTICES - len(vertices[f"CIFTI_STRUCTURE_CORTEX_{hemisphere.upper()}"])
    with pytest.raises(ShapeError, match="values for"):
        views.vertex_values(values[:10], models)


def test_subcortical_voxels_are_drawn_below_the_surfaces_on_the_maps_scale(tmp_path):
    """Grayordinates with subcortical voxels: the picture stacks the surface views and the voxels' glass brain and
    slices; a subcortical value at the map's peak is coloured, one below the threshold of that peak is not."""
    from syncact.report.surface import store_picture, subcortex_picture

    vertices = standard_vertices()
    cortex = (ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_LEFT"], N_VERTICES, name="CortexLeft")
              + ax.BrainModelAxis.from_surface(vertices["CIFTI_STRUCTURE_CORTEX_RIGHT"], N_VERTICES, name="CortexRight"))
    affine = np.diag([-2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (90, -126, -72)
    thalamus = np.zeros((91, 109, 91), dtype=bool)
    thalamus[40:50, 50:58, 35:42] = True
    models = cortex + ax.BrainModelAxis.from_mask(thalamus, name="ThalamusLeft", affine=affine)
    values = np.zeros(models.size)
    values[:2000] = 1.0
    sub = np.asarray(models.volume_mask)
    values[np.flatnonzero(sub)[:300]] = 0.9  # strong: coloured
    values[np.flatnonzero(sub)[300:]] = 0.1  # weak (below 0.35 of the peak 1.0): grey

    class Store:
        kind = "cifti"

        def brain_models(self):
            return models

    picture = Image.open(io.BytesIO(store_picture(Store(), values, "map")))
    surface = Image.open(io.BytesIO(surface_views().picture(surface_views().vertex_values(values, models), "map")))
    assert picture.height > surface.height + 50
    below = np.asarray(picture.convert("RGB"))[surface.height + 6:].astype(int)
    coloured = ((below[..., 0] - below[..., 2]) > 100).sum()
    only_weak = values.copy()
    only_weak[np.flatnonzero(sub)[:300]] = 0.1
    def red(v):
        rgb = np.asarray(Image.open(io.BytesIO(subcortex_picture(v, models))).convert("RGB")).astype(int)
        return ((rgb[..., 0] - rgb[..., 2]) > 100).sum()

    none = values.copy()
    none[sub] = 0.0
    assert red(only_weak) == red(none)  # the colour bar's red only: weak voxels stay grey
    assert coloured > red(none) + 200
    with pytest.raises(ShapeError, match="no subcortical voxel"):
        subcortex_picture(values[:cortex.size], cortex)
