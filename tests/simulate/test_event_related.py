"""The simulated event-related experiment: planted read-outs keep their layer's geometry; files are BIDS."""

import nibabel as nib
import numpy as np
import pytest

from syncact.exceptions import ConfigError, DataError
from syncact.rsa import compare_rdms, rdm_vector
from syncact.simulate import PlantedRegion, simulate_event_related
from syncact.simulate.event_related import readout_patterns

AFFINE = np.array([[4.0, 0, 0, -24], [0, 4, 0, -24], [0, 0, 4, -16], [0, 0, 0, 1]])


def small_mask():
    return nib.Nifti1Image(np.ones((13, 13, 9), np.uint8), AFFINE)


REGIONS = [PlantedRegion("left", "early", (-12.0, 0.0, 0.0), 8.0), PlantedRegion("right", "late", (12.0, 0.0, 0.0), 8.0)]


def test_readout_keeps_the_layer_rdm(rng):
    features = rng.normal(size=(10, 500)) + rng.normal(size=(1, 500))
    voxels = readout_patterns(features, 20000, rng)
    assert voxels.std() == pytest.approx(1)
    r = compare_rdms(rdm_vector(voxels), rdm_vector(features), "pearson")[0, 0]
    assert r > 0.95


def test_simulated_runs_and_truth(rng, tmp_path):
    features = {"early": rng.normal(size=(6, 50)), "late": rng.normal(size=(6, 80))}
    names = [f"im{i}" for i in range(6)]
    data = simulate_event_related(features, names, regions=REGIONS, mask_img=small_mask(), n_runs=2, repeats=2, seed=1)
    assert len(data.run_imgs) == 2 and data.run_imgs[0].shape[:3] == (13, 13, 9)
    assert data.run_imgs[0].shape[3] == data.params["n_scans"]
    for events in data.events:
        assert sorted(events["trial_type"].value_counts().to_dict().items()) == [(n, 2) for n in names]
        assert events["onset"].is_monotonic_increasing
    assert set(np.unique(data.region_labels)) == {-1, 0, 1}
    assert np.all(data.patterns[:, data.region_labels == -1] == 0)
    root = data.write(tmp_path / "bids")
    assert (root / "sub-01" / "func" / "sub-01_task-images_run-2_bold.nii.gz").exists()
    assert (root / "sub-01" / "func" / "sub-01_task-images_run-1_events.tsv").exists()
    labels = nib.load(root / "derivatives" / "ground_truth" / "regions.nii.gz").get_fdata()
    assert (labels == 2).sum() == (data.region_labels == 1).sum()
    with pytest.raises(FileExistsError):
        data.write(root)


def test_bad_regions_are_named(rng):
    features = {"early": rng.normal(size=(6, 50))}
    with pytest.raises(ConfigError, match="'late'"):
        simulate_event_related(features, list("abcdef"), regions=REGIONS, mask_img=small_mask())
    outside = [PlantedRegion("far", "early", (200.0, 0.0, 0.0), 8.0)]
    with pytest.raises(DataError, match="'far'"):
        simulate_event_related(features, list("abcdef"), regions=outside, mask_img=small_mask())
