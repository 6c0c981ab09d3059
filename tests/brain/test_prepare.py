import nibabel as nib
import numpy as np
import pytest

from syncact.brain.layouts import scan_dataset
from syncact.brain.prepare import PreparedStore, clean_run, confound_columns, prepare_dataset, read_run, target_grid
from syncact.exceptions import ConfigError, CorruptFileError, DataError, MissingFileError
from syncact.units import Executor


def test_masking_and_resampling_agree_with_nilearns_niftimasker(bids_dataset):
    """Resample 6 mm -> MNI152 4 mm, mask, detrend, z-score: equal to NiftiMasker on the same file."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.maskers import NiftiMasker

    info = scan_dataset(bids_dataset)
    run = info.runs[0]
    grid = target_grid(info)
    ours, valid = clean_run(read_run(run, grid, block=7), run.tr, detrend=True, high_pass=None)
    mask = load_mni152_brain_mask(resolution=4)
    masker = NiftiMasker(mask_img=mask, target_affine=mask.affine, target_shape=mask.shape, detrend=True,
                         standardize="zscore_sample", t_r=run.tr)
    ref = masker.fit_transform(run.path)
    n = ref.shape[0]
    assert ours.shape == ref.shape and valid.all()
    np.testing.assert_allclose(ours, ref * np.sqrt(n / (n - 1)), atol=1e-4)  # nilearn divides by the n - 1 std


def test_high_pass_and_confounds_match_nilearn_signal_clean(rng):
    from nilearn.signal import clean

    x = rng.standard_normal((80, 30)).astype(np.float32) + np.linspace(0, 5, 80)[:, None]
    conf = rng.standard_normal((80, 3))
    ours, _ = clean_run(x, 2.0, detrend=True, high_pass=0.01, confounds=conf)
    ref = clean(x, detrend=True, standardize="zscore_sample", confounds=conf, filter="cosine", high_pass=0.01, t_r=2.0)
    np.testing.assert_allclose(ours, ref * np.sqrt(80 / 79), atol=1e-4)


def test_confound_presets():
    cols = confound_columns("motion24+wm_csf")
    assert len(cols) == 26 and cols[:2] == ["trans_x", "trans_y"] and cols[-2:] == ["white_matter", "csf"]
    assert confound_columns(["csf", "csf"]) == ["csf"] and confound_columns(None) == []


def test_store_roundtrip_resume_and_streaming(bids_dataset, tmp_path):
    info = scan_dataset(bids_dataset)
    store = prepare_dataset(info, tmp_path / "prep.zarr", high_pass=None)
    assert len(store.runs) == 4 and store.tr == 2.0 and store.subjects == ["01", "02"]
    grid = target_grid(info)
    expected, _ = clean_run(read_run(info.runs[1], grid), 2.0, detrend=True, high_pass=None)
    np.testing.assert_allclose(store.read("01", "2"), expected[:, store.voxels], atol=1e-6)
    # resume: a run removed from the store is the only one written again
    import shutil

    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "prep.zarr" / "runs").iterdir()}
    shutil.rmtree(tmp_path / "prep.zarr" / "runs" / "sub-02_run-1")
    prepare_dataset(info, tmp_path / "prep.zarr", high_pass=None)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "prep.zarr" / "runs").iterdir()}
    assert {k for k in after if after[k] != mtimes.get(k)} == {"sub-02_run-1"}
    with pytest.raises(ConfigError, match="other parameters"):
        prepare_dataset(info, tmp_path / "prep.zarr", high_pass=0.01)
    import os

    src = info.runs[3].path
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))  # the data changed on disk
    with pytest.raises(ConfigError, match="sub-02_run-2.*the data changed"):
        prepare_dataset(info, tmp_path / "prep.zarr", high_pass=None)
    reopened = PreparedStore(tmp_path / "prep.zarr")
    np.testing.assert_array_equal(reopened.read("02", "1"), store.read("02", "1"))
    with pytest.raises(MissingFileError, match="not a prepared store"):
        PreparedStore(tmp_path)
    # segments and batches
    segs = store.segments(10, drop_start=2, drop_end=1)  # 24 - 3 = 21 TRs -> two 10-TR pieces per run
    assert len(segs) == 8 and {(s.start, s.stop) for s in segs} == {(2, 12), (12, 22)}
    batches = list(store.iter_batches(segs, 3, seed=1))
    assert [b.shape for b in batches] == [(3, 10, store.n_features)] * 2 + [(2, 10, store.n_features)]
    with pytest.raises(DataError, match="leaves none"):
        store.segments(drop_start=20, drop_end=4)
    maps = store.unmask(np.ones((2, store.n_features), dtype=np.float32))
    assert maps.shape == (50, 59, 48, 2) and int(maps.get_fdata()[..., 0].sum()) == store.n_features


def test_constant_voxels_leave_the_group_set_with_a_warning(bids_dataset, tmp_path, caplog):
    f = bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-1_bold.nii.gz"
    img = nib.load(f)
    data = np.asarray(img.dataobj).copy()
    data[:17, :, :, :] = 0  # half of the brain outside this run's field of view
    nib.save(nib.Nifti1Image(data, img.affine, img.header), f)
    store = prepare_dataset(scan_dataset(bids_dataset), tmp_path / "p.zarr", high_pass=None)
    assert "voxels are constant" in caplog.text and "sub-02_task-movie_run-1" in caplog.text
    assert 0 < store.n_features < store.voxels.size
    assert np.all(np.isfinite(store.read("02", "1"))) and store.read("01", "1").shape[1] == store.n_features


def test_nan_and_problems_stop_preparation_with_the_file_named(bids_dataset, tmp_path):
    f = bids_dataset / "sub-01" / "func" / "sub-01_task-movie_run-1_bold.nii.gz"
    img = nib.load(f)
    data = np.asarray(img.dataobj).astype(np.float32)
    data[17, 20, 16, 3] = np.nan
    header = img.header.copy()
    header.set_data_dtype(np.float32)
    nib.save(nib.Nifti1Image(data, img.affine, header), f)
    with pytest.raises(DataError, match="sub-01_task-movie_run-1_bold.nii.gz.*NaN"):
        prepare_dataset(scan_dataset(bids_dataset), tmp_path / "p.zarr", high_pass=None)
    (bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-2_bold.nii.gz").unlink()
    with pytest.raises(DataError, match="missing for subject"):
        prepare_dataset(scan_dataset(bids_dataset), tmp_path / "q.zarr")


def test_fmriprep_confounds_cifti_and_arrays(fmriprep_dataset, hcp_dataset, tmp_path):
    info = scan_dataset(fmriprep_dataset)
    with pytest.raises(DataError, match="26 confound columns leave no degrees of freedom in 24 volumes"):
        prepare_dataset(info, tmp_path / "x.zarr", confounds="motion24+wm_csf")
    with_conf = prepare_dataset(info, tmp_path / "f.zarr", confounds="motion6+wm_csf", high_pass=None)
    without = prepare_dataset(info, tmp_path / "g.zarr", high_pass=None)
    assert with_conf.n_features == without.n_features
    assert not np.allclose(with_conf.read("01", "1"), without.read("01", "1"), atol=1e-3)
    cifti = prepare_dataset(scan_dataset(hcp_dataset, hcp_data="cifti"), tmp_path / "c.zarr")
    assert cifti.n_features == 81 and set(cifti.attrs["structures"]) >= {"CIFTI_STRUCTURE_CORTEX_LEFT",
                                                                         "CIFTI_STRUCTURE_THALAMUS_LEFT"}
    with pytest.raises(ConfigError, match="not volumes"):
        cifti.mask_img()
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    rng = np.random.default_rng(0)
    for sub in ("01", "02"):
        np.save(arrays / f"sub-{sub}_run-1.npy", rng.standard_normal((30, 12)).astype(np.float32))
    import h5py

    with h5py.File(arrays / "sub-03_run-1.h5", "w") as h5:
        h5["data"] = rng.standard_normal((30, 12)).astype(np.float32)
    store = prepare_dataset(scan_dataset(arrays, tr=0.8), tmp_path / "a.zarr", high_pass=None)
    assert store.subjects == ["01", "02", "03"]
    x = store.read("03", "1")
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-4)


def test_a_truncated_file_is_named_and_nothing_is_left_half_written(bids_dataset, tmp_path):
    f = bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-2_bold.nii.gz"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])  # the header reads, the volumes stop half way
    info = scan_dataset(bids_dataset)
    assert any("sub-02_task-movie_run-2_bold.nii.gz" in p and "truncated" in p for p in info.problems)
    with pytest.raises(DataError, match=r"1 problem\(s\)"):  # found from the gzip trailer, before anything is written
        prepare_dataset(info, tmp_path / "q.zarr", high_pass=None)
    assert not (tmp_path / "q.zarr").exists()
    info.problems.clear()  # had the header check missed it, reading stops with the file named
    with pytest.raises(CorruptFileError, match="sub-02_task-movie_run-2_bold.nii.gz.*truncated or corrupt"):
        prepare_dataset(info, tmp_path / "p.zarr", high_pass=None)
    runs = sorted(p.name for p in (tmp_path / "p.zarr" / "runs").iterdir())
    assert runs == ["sub-01_run-1", "sub-01_run-2", "sub-02_run-1", "zarr.json"]  # finished runs kept, no temp left


def test_runs_prepared_on_two_dask_workers_equal_the_serial_store(bids_dataset, tmp_path):
    """Each run a unit on a 2-worker LocalCluster: the same arrays and voxel set; the store pickles as its path."""
    import pickle

    pytest.importorskip("distributed")
    info = scan_dataset(bids_dataset)
    serial = prepare_dataset(info, tmp_path / "serial.zarr", high_pass=None)
    on_dask = prepare_dataset(info, tmp_path / "dask.zarr", high_pass=None, executor=Executor(workers=2),
                              units_dir=tmp_path / "units")
    assert [r["key"] for r in on_dask.runs] == [r["key"] for r in serial.runs]
    np.testing.assert_array_equal(on_dask.voxels, serial.voxels)
    for r in serial.runs:
        # a worker's single-threaded BLAS may round the cleaning regression differently in the last bits
        np.testing.assert_allclose(on_dask.read(r["subject"], r["run"]), serial.read(r["subject"], r["run"]),
                                   rtol=1e-5, atol=1e-5)
    assert len(list((tmp_path / "units" / "prepare").glob("*.pkl"))) == 4  # one unit per run
    # the content key names the data, not the folder: equal for both stores, changed when a run is missing
    assert on_dask.content_key() == serial.content_key()
    reopened = pickle.loads(pickle.dumps(on_dask))
    assert reopened.path == on_dask.path and reopened.content_key() == on_dask.content_key()
    import shutil

    shutil.rmtree(tmp_path / "dask.zarr" / "runs" / "sub-02_run-1")
    assert PreparedStore(tmp_path / "dask.zarr").content_key() != serial.content_key()


def test_an_all_zero_run_is_refused_with_its_file_named(bids_dataset, tmp_path):
    f = bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-1_bold.nii.gz"
    img = nib.load(f)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, dtype=np.int16), img.affine, img.header), f)
    with pytest.raises(DataError, match="sub-02_task-movie_run-1_bold.nii.gz.*no voxel in the mask varies"):
        prepare_dataset(scan_dataset(bids_dataset), tmp_path / "p.zarr", high_pass=None)


def test_training_from_a_prepared_store_equals_training_in_memory(bids_dataset, tmp_path):
    # the store's lazy runs feed the embedding exactly what the same runs in memory do
    from syncact.brain import prepare_dataset, scan_dataset
    from syncact.networks import FBNEmbedding

    store = prepare_dataset(scan_dataset(bids_dataset), tmp_path / "p.zarr", high_pass=None)
    segments = store.segments(12)
    lazy = store.runset(segments)
    assert lazy.shapes == [(12, store.n_features)] * len(segments) and lazy.groups[0] == "01"
    memory = [np.array(x) for x in lazy]
    for n_components in (16, None):
        a = FBNEmbedding(4, temporal="none", n_epochs=3, batch_size=2, n_components=n_components, seed=0).fit(lazy)
        b = FBNEmbedding(4, temporal="none", n_epochs=3, batch_size=2, n_components=n_components, seed=0).fit(memory)
        np.testing.assert_array_equal(a.maps_, b.maps_)
