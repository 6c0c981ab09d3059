"""Searchlight RSA: spheres, RDMs and comparisons equal rsatoolbox's; the permutation test finds a planted region."""

import numpy as np
import pytest

from syncact.exceptions import DataError, ShapeError
from syncact.rsa import rdm_vector
from syncact.rsa.searchlight import (
    Spheres,
    permuted_pairs,
    searchlight_rdms,
    searchlight_rsa,
    sphere_neighbourhoods,
)
from syncact.units import Executor

SHAPE = (9, 8, 7)


@pytest.fixture
def mask():
    m = np.zeros(SHAPE, bool)
    m[1:8, 1:7, 1:6] = True
    m[1, 1, 1] = m[4, 4, 5] = False  # a dent and a hole: spheres are cut there
    return m


def _rsatoolbox_spheres(mask, radius):
    searchlight = pytest.importorskip("rsatoolbox.util.searchlight")
    return searchlight.get_volume_searchlight(mask, radius=radius, threshold=0.0, truncate_at_boundary=True)


def test_spheres_equal_rsatoolbox_cut_at_boundary(mask):
    centers, neighbours = _rsatoolbox_spheres(mask, 2)
    ours = sphere_neighbourhoods(mask, np.eye(4), 1.99, min_voxels=1)  # rsatoolbox: distance < radius
    columns = np.ravel_multi_index(np.nonzero(mask), SHAPE)
    assert np.array_equal(columns[ours.centers], centers)
    for s, theirs in enumerate(neighbours):
        assert set(columns[ours.members(s)]) == set(theirs)
    assert all(mask.ravel()[columns[ours.indices]])  # nothing outside the mask


def test_spheres_use_mm_from_the_affine(mask):
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    in_mm = sphere_neighbourhoods(mask, affine, 6.0, min_voxels=1)
    in_voxels = sphere_neighbourhoods(mask, np.eye(4), 2.0, min_voxels=1)
    assert np.array_equal(in_mm.indptr, in_voxels.indptr) and np.array_equal(in_mm.indices, in_voxels.indices)
    assert in_mm.sizes.max() == 33  # a full sphere of radius 2 voxels (<=)
    default = sphere_neighbourhoods(mask, affine, 6.0)
    assert default.sizes.min() >= 16 and default.n_spheres < in_mm.n_spheres


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_searchlight_rdms_and_similarity_equal_rsatoolbox(rng, mask, metric):
    from rsatoolbox.inference import eval_fixed
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.util.searchlight import evaluate_models_searchlight, get_searchlight_RDMs

    n = 12
    data = rng.normal(size=(n, np.prod(SHAPE)))
    centers, neighbours = _rsatoolbox_spheres(mask, 2)
    spheres = Spheres.from_lists(centers, neighbours, data.shape[1])
    ref = get_searchlight_RDMs(data, centers, neighbours, np.arange(n), method=metric, verbose=False)
    ours = searchlight_rdms(data, spheres, metric, memory_mb=0.05)  # many chunks
    np.testing.assert_allclose(ours, ref.dissimilarities, atol=1e-8)

    models = rng.normal(size=(2, n * (n - 1) // 2))
    for method, theirs in [("spearman", "spearman"), ("pearson", "corr"), ("kendall_tau_a", "tau-a")]:
        evaluations = evaluate_models_searchlight(
            ref, [ModelFixed(f"m{i}", RDMs(m[None])) for i, m in enumerate(models)], eval_fixed, method=theirs)
        expected = np.array([e.evaluations for e in evaluations]).reshape(-1, 2).T
        found = searchlight_rsa(data, spheres, models, metric=metric, method=method, n_perm=0, memory_mb=0.05)
        np.testing.assert_allclose(found.similarity, expected, atol=1e-8)


def test_permuted_pairs_is_the_rdm_of_permuted_images(rng):
    x = rng.normal(size=(7, 20))
    perm = rng.permutation(7)
    np.testing.assert_allclose(rdm_vector(x[perm]), rdm_vector(x)[permuted_pairs(7, perm)], atol=1e-12)


def test_max_statistic_finds_planted_region_and_holds_fwe_elsewhere(rng):
    n, shape = 16, (10, 10, 10)
    mask = np.ones(shape, bool)
    model_features = rng.normal(size=(2, n, 30))
    models = np.stack([rdm_vector(f) for f in model_features])
    data = rng.normal(size=(n, mask.sum()))
    region = np.zeros(shape, bool)
    region[1:5, 1:5, 1:5] = True  # encodes layer 0
    cols = np.flatnonzero(region.ravel())
    data[:, cols] += 3 * model_features[0] @ rng.normal(size=(30, cols.size)) / np.sqrt(30)
    spheres = sphere_neighbourhoods(mask, np.eye(4), 1.5)
    maps = searchlight_rsa(data, spheres, models, layers=["early", "late"], n_perm=200, seed=1)
    sig = maps.significant(0.05)
    center_in_region = region.ravel()[spheres.centers]
    assert sig[0, center_in_region].mean() > 0.5
    assert not sig[0, ~center_in_region & ~_near(region, spheres)].any()
    assert not sig[1].any()  # the other layer: no false positive anywhere
    wta = maps.winner_take_all(0.05)
    assert set(np.unique(wta)) <= {-1, 0}
    assert maps.null_max.shape == (2, 200) and np.all(maps.p_fwe >= 1 / 201)
    # p_fwe is the share of permutation maxima at or above the observed value
    i = int(np.nanargmax(maps.similarity[0]))
    assert maps.p_fwe[0, i] == pytest.approx((1 + (maps.null_max[0] >= maps.similarity[0, i]).sum()) / 201)
    assert maps.dice(0.05)[0, 1] == 0


def _near(region, spheres):
    """Centres whose sphere touches the region (their RDM mixes in planted voxels)."""
    touches = np.zeros(spheres.n_spheres, bool)
    cols = set(np.flatnonzero(region.ravel()))
    for s in range(spheres.n_spheres):
        touches[s] = bool(cols.intersection(spheres.members(s).tolist()))
    return touches


def test_maps_to_nifti_and_dice(rng, tmp_path):
    import nibabel as nib

    mask = np.ones((6, 6, 6), bool)
    mask_img = nib.Nifti1Image(mask.astype(np.uint8), np.diag([4.0, 4.0, 4.0, 1.0]))
    spheres = sphere_neighbourhoods(mask, mask_img.affine, 4.0)
    maps = searchlight_rsa(rng.normal(size=(8, mask.sum())), spheres, rng.normal(size=(2, 28)), layers=["a", "b"], n_perm=20)
    written = maps.save(tmp_path / "maps", mask_img)
    assert sorted(p.name for p in written) == ["a_logp_fwe.nii.gz", "a_similarity.nii.gz", "b_logp_fwe.nii.gz",
                                               "b_similarity.nii.gz", "winner_take_all.nii.gz"]
    img = nib.load(tmp_path / "maps" / "a_similarity.nii.gz")
    assert img.shape == (6, 6, 6)
    np.testing.assert_allclose(img.get_fdata()[mask][spheres.centers], maps.similarity[0], atol=1e-6)
    maps.p_fwe[:] = 1.0
    maps.p_fwe[0, :10] = maps.p_fwe[1, 5:20] = 0.01
    assert maps.dice(0.05)[0, 1] == pytest.approx(2 * 5 / (10 + 15))


def test_bad_input_is_named(rng, mask):
    spheres = sphere_neighbourhoods(mask, np.eye(4), 1.5)
    with pytest.raises(ShapeError, match="voxels but the spheres"):
        searchlight_rdms(rng.normal(size=(5, 10)), spheres)
    x = rng.normal(size=(5, spheres.n_voxels))
    x[0, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        searchlight_rdms(x, spheres)
    with pytest.raises(ShapeError, match="same images"):
        searchlight_rsa(rng.normal(size=(5, spheres.n_voxels)), spheres, rng.normal(size=(1, 6)))
    with pytest.raises(DataError, match="no voxels"):
        sphere_neighbourhoods(np.zeros((3, 3, 3)), np.eye(4))
    with pytest.raises(DataError, match="no permutations"):
        searchlight_rsa(rng.normal(size=(5, spheres.n_voxels)), spheres, rng.normal(size=(1, 10)), n_perm=0).significant()


def test_parts_on_a_local_dask_cluster_give_the_in_process_maps(rng, tmp_path):
    pytest.importorskip("distributed")
    mask = np.ones((7, 7, 7), bool)
    spheres = sphere_neighbourhoods(mask, np.eye(4), 1.5)
    data, models = rng.normal(size=(9, mask.sum())), rng.normal(size=(2, 36))
    serial = searchlight_rsa(data, spheres, models, n_perm=50, seed=3)
    parted = searchlight_rsa(data, spheres, models, n_perm=50, seed=3, executor=Executor(workers=2), n_parts=5, store=tmp_path / "units",
                             progress=False)
    np.testing.assert_allclose(parted.similarity, serial.similarity, atol=1e-12)
    np.testing.assert_allclose(parted.null_max, serial.null_max, atol=1e-12)
    np.testing.assert_array_equal(parted.p_fwe, serial.p_fwe)
    np.testing.assert_array_equal(parted.p_uncorrected, serial.p_uncorrected)
    assert len(list((tmp_path / "units" / "searchlight").glob("part-*.npz"))) == 5
