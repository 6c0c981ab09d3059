"""Image-specific patterns with nilearn's FirstLevelModel (LSA, LSS) recover planted responses; maps load."""

import nibabel as nib
import numpy as np
import pytest

from syncact.brain.patterns import image_patterns, patterns_from_maps
from syncact.exceptions import CorruptFileError, DataError, MissingFileError, ShapeError
from syncact.simulate import PlantedRegion, simulate_event_related

AFFINE = np.array([[4.0, 0, 0, -24], [0, 4, 0, -24], [0, 0, 4, -16], [0, 0, 0, 1]])


@pytest.fixture(scope="module")
def experiment():
    rng = np.random.default_rng(5)
    mask = nib.Nifti1Image(np.ones((13, 13, 9), np.uint8), AFFINE)
    regions = [PlantedRegion("left", "early", (-12.0, 0.0, 0.0), 10.0)]
    features = {"early": rng.normal(size=(8, 60))}
    return simulate_event_related(features, [f"im{i}" for i in range(8)], regions=regions, mask_img=mask, n_runs=2,
                                  repeats=3, amplitude=4.0, noise=1.0, seed=2)


@pytest.mark.parametrize("method", ["lsa", "lss"])
def test_planted_patterns_are_recovered(experiment, method):
    est = image_patterns(experiment.run_imgs, experiment.events, experiment.t_r, mask_img=experiment.mask_img,
                         method=method, output="beta", noise_model="ols", images=experiment.names)
    assert est.patterns.shape == experiment.patterns.shape and est.names == experiment.names
    region = experiment.region_labels == 0
    truth = experiment.patterns[:, region]
    found = est.patterns[:, region]
    r = np.corrcoef(truth.ravel(), found.ravel())[0, 1]
    assert r > 0.9
    outside = est.patterns[:, ~region]
    assert np.abs(outside).mean() < 0.5 * np.abs(found).mean()


def test_images_in_a_chosen_order_and_missing_ones(experiment):
    order = experiment.names[::-1]
    est = image_patterns(experiment.run_imgs, experiment.events, experiment.t_r, mask_img=experiment.mask_img,
                         noise_model="ols", images=order)
    assert est.names == order
    np.testing.assert_allclose(est.reorder(experiment.names).patterns, est.patterns[::-1])
    with pytest.raises(DataError, match="never shown"):
        image_patterns(experiment.run_imgs, experiment.events, experiment.t_r, mask_img=experiment.mask_img,
                       images=["im0", "im1", "nope"])


def test_bad_events_are_named(experiment, tmp_path):
    with pytest.raises(ShapeError, match="one events table per run"):
        image_patterns(experiment.run_imgs, experiment.events[:1], 2.0, mask_img=experiment.mask_img)
    bad = experiment.events[0].rename(columns={"trial_type": "stim"})
    path = tmp_path / "run1_events.tsv"
    bad.to_csv(path, sep="\t", index=False)
    with pytest.raises(DataError, match="image_column"):
        image_patterns(experiment.run_imgs, [path, experiment.events[1]], 2.0, mask_img=experiment.mask_img)
    with pytest.raises(MissingFileError, match="missing"):
        image_patterns(experiment.run_imgs, [tmp_path / "nope.tsv", experiment.events[1]], 2.0, mask_img=experiment.mask_img)
    other = experiment.events[1].rename(columns={"trial_type": "stim"})
    est = image_patterns(experiment.run_imgs, [path, other], 2.0, mask_img=experiment.mask_img,
                         image_column="stim", noise_model="ols")
    assert len(est.names) == 8


def test_patterns_from_maps(experiment, tmp_path, rng):
    from nilearn.masking import unmask

    paths = []
    for i, row in enumerate(experiment.patterns[:4]):
        path = tmp_path / f"beta_im{i}.nii.gz"
        unmask(row.astype(np.float32), experiment.mask_img).to_filename(path)
        paths.append(path)
    loaded = patterns_from_maps(paths, experiment.mask_img)
    assert loaded.names == ["beta_im0", "beta_im1", "beta_im2", "beta_im3"]
    np.testing.assert_allclose(loaded.patterns, experiment.patterns[:4], atol=1e-5)
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(CorruptFileError, match="broken.nii.gz"):
        patterns_from_maps(paths[:3] + [tmp_path / "broken.nii.gz"], experiment.mask_img)


def test_patterns_from_dscalar(tmp_path, rng):
    """One CIFTI dense scalar file, a map per image named by it; bad files named."""
    from nibabel.cifti2 import cifti2_axes as ax

    from syncact.brain.cifti import dscalar
    from syncact.brain.patterns import patterns_from_dscalar

    models = ax.BrainModelAxis.from_surface(np.arange(50), 60, name="CortexLeft")
    data = rng.normal(size=(4, 50))
    dscalar(data, models, ["a", "b", "c", "d"]).to_filename(tmp_path / "betas.dscalar.nii")
    loaded = patterns_from_dscalar(tmp_path / "betas.dscalar.nii")
    assert loaded.names == ["a", "b", "c", "d"] and loaded.mask_img is None and loaded.brain_models == models
    np.testing.assert_allclose(loaded.patterns, data, atol=1e-6)
    assert loaded.reorder(["d", "a", "b"]).brain_models == models
    data[1, 3] = np.nan
    dscalar(data, models, ["a", "b", "c", "d"]).to_filename(tmp_path / "nan.dscalar.nii")
    with pytest.raises(DataError, match="nan.dscalar.nii"):
        patterns_from_dscalar(tmp_path / "nan.dscalar.nii")
    dscalar(data[:, :], models, ["a", "a", "c", "d"]).to_filename(tmp_path / "twice.dscalar.nii")
    with pytest.raises(DataError, match="more than once"):
        patterns_from_dscalar(tmp_path / "twice.dscalar.nii")
    (tmp_path / "broken.dscalar.nii").write_bytes(b"not cifti")
    with pytest.raises(CorruptFileError, match="broken.dscalar.nii"):
        patterns_from_dscalar(tmp_path / "broken.dscalar.nii")
    with pytest.raises(MissingFileError, match="absent.dscalar.nii"):
        patterns_from_dscalar(tmp_path / "absent.dscalar.nii")
