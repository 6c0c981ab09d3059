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


def test_grayordinate_dataset_is_hcp_cifti_with_networks_in_real_parcels(tiny_surface_dataset):
    """fsLR32k: dense time series in the HCP layout on the standard cortex; each planted network lies in the parcels
    it was built from (Glasser areas, Yeo networks) and its peak grayordinate follows its planted time course."""
    from syncact.annotate.parcellations import Parcellation
    from syncact.brain.cifti import check_standard, cortex_models, read_brain_models

    ds = tiny_surface_dataset
    info = scan_dataset(ds.root, hcp_data="cifti").check()
    assert info.layout == "hcp" and {r.kind for r in info.runs} == {"cifti"} and len(info.runs) == 5 * 2
    assert {r.tr for r in info.runs} == {1.0} and {r.n_timepoints for r in info.runs} == {60}
    assert ds.runs[("sim01", 1)].name == "tfMRI_MOVIE1_7T_AP_Atlas_MSMAll_hp2000_clean.dtseries.nii"
    models = read_brain_models(ds.runs[("sim01", 1)])
    assert models == cortex_models() and np.array_equal(check_standard(models), np.arange(59412))
    networks, maps, mask = load_ground_truth(ds.root)
    assert mask is None and maps.shape == (7, 59412)
    np.testing.assert_allclose(maps, ds.maps, atol=1e-6)  # float32 on disk
    cortex = np.arange(59412)
    for row, planted in zip(networks.itertuples(), maps, strict=True):
        inside = np.zeros(59412, dtype=bool)
        for entry in row.parcels.split():
            atlas, name = entry.split(":")
            parc = Parcellation.load(atlas).restrict(cortex)
            names = {name} if atlas == "yeo7" else {f"L_{name}", f"R_{name}"}
            inside |= np.isin(parc.labels, [i for i, p in enumerate(parc.parcels) if p in names])
        # graded from the parcels' core: most of the map inside, its peak inside, every parcel grayordinate loaded
        # (isolated vertices and thin strips little), nothing outside at half the peak or more
        assert planted[inside].sum() / planted.sum() > 0.85, row.name
        assert inside[np.argmax(planted)] and planted[inside].min() > 0 and planted[~inside].max() < 0.5
    data = nib.load(ds.runs[("sim01", 1)]).get_fdata()  # (T, grayordinates)
    tcs = pd.read_csv(ds.root / "derivatives" / "ground_truth" / "sub-sim01" / "sub-sim01_run-1_timecourses.tsv", sep="\t")
    for i in range(len(networks)):  # the network's core (its 50 highest grayordinates) follows its time course
        core, far = np.argsort(maps[i])[-50:], np.argmin(maps[i])
        assert np.corrcoef(data[:, core].mean(axis=1), tcs.iloc[:, i])[0, 1] > 0.5, networks["name"][i]
        assert abs(np.corrcoef(data[:, far], tcs.iloc[:, i])[0, 1]) < 0.5


def test_grayordinate_subject_maps_vary_around_the_group_map():
    from syncact.simulate.bold import SURFACE_NETWORKS
    from syncact.simulate.spaces import GrayordinateSpace

    space = GrayordinateSpace()
    group = space.group_maps(SURFACE_NETWORKS)
    one, two = (space.subject_maps(SURFACE_NETWORKS, np.random.default_rng(s), 2.0) for s in (0, 1))
    for k in range(len(SURFACE_NETWORKS)):
        r_group = np.corrcoef(one[k], group[k])[0, 1]
        assert 0.8 < r_group < 0.999, (k, r_group)  # the same network, not the same map
        assert np.corrcoef(one[k], two[k])[0, 1] < 0.999
    with pytest.raises(ConfigError, match="no parcel named"):
        space.parcel_mask(("mmp:NOT_AN_AREA",))
    with pytest.raises(ConfigError, match="space must be one of"):
        from syncact.simulate import make_dataset

        make_dataset("/nonexistent-never-written", space="MNI305")


def test_grayordinate_networks_are_graded_so_spatial_ica_can_separate_them():
    """docs/embedded-dataset.md: flat indicators of two large Yeo networks are barely non-Gaussian while their sum
    is sub-Gaussian (spatial ICA prefers the merged map); graded from core to border each is super-Gaussian."""
    from scipy.stats import kurtosis

    from syncact.simulate.bold import SURFACE_NETWORKS
    from syncact.simulate.spaces import GrayordinateSpace

    space = GrayordinateSpace()
    large = SURFACE_NETWORKS[4:6]  # Default, Somatomotor
    assert [n.parcels for n in large] == [("yeo7:Default",), ("yeo7:Somatomotor",)]
    flat = np.stack([space.parcel_mask(n.parcels) for n in large]).astype(float)
    assert kurtosis(flat, axis=1).max() < 0.5 and kurtosis(flat.sum(axis=0)) < -1.5
    graded = space.group_maps(large)
    assert kurtosis(graded, axis=1).min() > 1.5


def test_reading_a_cifti_only_hcp_dataset_as_volumes_says_how_to_read_it(tiny_surface_dataset):
    from syncact.exceptions import DataError

    with pytest.raises(DataError, match='hcp_data = "cifti"'):
        scan_dataset(tiny_surface_dataset.root, hcp_data="volume").check()
