import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from syncact.brain import scan_dataset
from syncact.exceptions import ConfigError
from syncact.simulate import load_ground_truth
from syncact.stimulus import sync_frames
from syncact.stimulus.features import luminance, motion_energy


def test_bids_layout_and_sidecars(tiny_dataset):
    root = tiny_dataset.root
    info = scan_dataset(root, task="movie").check()
    runs = info.runs
    assert info.layout == "bids"
    assert len(runs) == 5 * 2 and {r.tr for r in runs} == {1.0}
    assert all(r.n_timepoints == 60 for r in runs)
    assert json.loads((root / "dataset_description.json").read_text())["BIDSVersion"]
    for run in (1, 2):
        assert (root / "stimuli" / f"task-movie_run-{run}.mp4").is_file()
    networks, maps, mask = load_ground_truth(root)
    assert set(networks["kind"]) == {"stimulus", "spontaneous"}
    assert maps.shape == (len(networks), int(mask.sum()))
    assert networks.loc[networks["driver"] == "cnn:block3", "filter"].item().startswith("efficientnet_lite2:block3:")


def test_planted_signal_is_in_the_voxels(tiny_dataset):
    """The voxel at the peak of a driven network correlates with its planted BOLD; a far voxel does not."""
    root = tiny_dataset.root
    networks, maps, mask = load_ground_truth(root)
    img = nib.load(root / "sub-01" / "func" / "sub-01_task-movie_run-1_bold.nii.gz")
    data = img.get_fdata()[mask]  # (n_voxels, T)
    tcs = pd.read_csv(root / "derivatives" / "ground_truth" / "sub-01" / "sub-01_run-1_timecourses.tsv", sep="\t")
    i = int(np.flatnonzero(networks["name"] == "early_visual_luminance")[0])
    peak = np.argmax(maps[i])
    far = np.argmin(maps[i])
    assert np.corrcoef(data[peak], tcs.iloc[:, i])[0, 1] > 0.4
    assert abs(np.corrcoef(data[far], tcs.iloc[:, i])[0, 1]) < 0.4


def test_drivers_match_the_decoded_movie(tiny_dataset):
    frames = sync_frames(tiny_dataset.movies[1], 1.0, 60, size=(256, 180))
    drivers = tiny_dataset.drivers[1]
    np.testing.assert_allclose(drivers["early_visual_luminance"], luminance(frames.images), rtol=1e-5)
    np.testing.assert_allclose(drivers["hmt_motion"], motion_energy(frames.images), rtol=1e-5)


def test_deterministic_for_a_seed(tiny_dataset, tmp_path):
    from syncact.simulate import make_dataset

    again = make_dataset(tmp_path / "again", n_subjects=5, n_runs=2, n_timepoints=60, seed=3)
    for rel in ("sub-03/func/sub-03_task-movie_run-2_bold.nii.gz", "derivatives/ground_truth/networks.tsv"):
        a, b = tiny_dataset.root / rel, again.root / rel
        if rel.endswith(".nii.gz"):
            np.testing.assert_array_equal(np.asarray(nib.load(a).dataobj), np.asarray(nib.load(b).dataobj))
        else:
            assert a.read_text() == b.read_text()


def test_never_overwrites(tmp_path):
    from syncact.simulate import make_dataset

    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        make_dataset(tmp_path, n_subjects=3, n_timepoints=20)
    assert (tmp_path / "keep.txt").read_text() == "mine"
