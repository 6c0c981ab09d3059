import json

import nibabel as nib
import numpy as np
import pytest

from syncact.brain import build_mask, find_bids_runs, load_run_matrix, zscore_voxels
from syncact.brain.io import inspect_run
from syncact.exceptions import CorruptFileError, DataError, MissingFileError, ShapeError

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])


def _write(root, sub, run, data, tr=2.0, sidecar_tr=None, affine=AFFINE):
    func = root / f"sub-{sub}" / "func"
    func.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data.astype(np.float32), affine)
    if data.ndim == 4:
        img.header.set_zooms((4.0, 4.0, 4.0, tr))
    path = func / f"sub-{sub}_task-movie_run-{run}_bold.nii.gz"
    nib.save(img, path)
    (func / path.name.replace(".nii.gz", ".json")).write_text(json.dumps({"RepetitionTime": sidecar_tr or tr}))
    return path


def test_find_runs_reads_tr_and_orders(tmp_path, rng):
    for sub in ("02", "01"):
        for run in (2, 1):
            _write(tmp_path, sub, run, rng.normal(size=(4, 5, 6, 10)))
    runs = find_bids_runs(tmp_path)
    assert [(r.subject, r.run) for r in runs] == [("01", "1"), ("01", "2"), ("02", "1"), ("02", "2")]
    assert all(r.tr == 2.0 and r.n_timepoints == 10 for r in runs)


def test_load_matrix_matches_nibabel_and_zscore(tmp_path, rng):
    data = rng.normal(5, 2, size=(4, 5, 6, 12))
    path = _write(tmp_path, "01", 1, data)
    run = inspect_run(path)
    mask = np.zeros((4, 5, 6), bool)
    mask[1:3, 1:4, 2:5] = True
    x = load_run_matrix(run, mask)
    np.testing.assert_allclose(x, data[mask].T, rtol=1e-6)
    z = zscore_voxels(x.copy())
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)


def test_3d_image_is_rejected(tmp_path, rng):
    path = _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6)))
    with pytest.raises(ShapeError, match="3D.*must be 4D"):
        inspect_run(path)


def test_sidecar_tr_disagreeing_with_header(tmp_path, rng):
    path = _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6, 10)), tr=2.0, sidecar_tr=1.0)
    with pytest.raises(DataError, match=r"header says TR=2 s but the JSON sidecar says RepetitionTime=1 s"):
        inspect_run(path)


def test_different_grids_are_rejected(tmp_path, rng):
    _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6, 10)))
    _write(tmp_path, "02", 1, rng.normal(size=(4, 5, 7, 10)))
    with pytest.raises(DataError, match="voxel grid.*resample"):
        find_bids_runs(tmp_path)


def test_nan_and_constant_voxels(tmp_path, rng):
    data = rng.normal(size=(4, 5, 6, 10))
    data[1, 1, 1, 3] = np.nan
    run = inspect_run(_write(tmp_path, "01", 1, data))
    mask = np.ones((4, 5, 6), bool)
    with pytest.raises(DataError, match="sub-01_task-movie_run-1_bold.*has 1 NaN"):
        load_run_matrix(run, mask)
    x = rng.normal(size=(10, 8)).astype(np.float32)
    x[:, 3] = 7.0
    with pytest.raises(DataError, match="1 voxels inside the mask that are constant"):
        zscore_voxels(x, source="run.nii.gz")


def test_missing_and_corrupt(tmp_path, rng):
    with pytest.raises(MissingFileError, match="no BOLD runs"):
        find_bids_runs(tmp_path)
    with pytest.raises(MissingFileError, match="does not exist"):
        find_bids_runs(tmp_path / "nope")
    path = _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6, 10)))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # truncated gzip
    run = inspect_run(path)
    with pytest.raises(CorruptFileError, match="truncated or corrupt"):
        load_run_matrix(run, np.ones((4, 5, 6), bool))


def test_mni_mask_on_mni_grid():
    from nilearn.datasets import load_mni152_brain_mask

    template = load_mni152_brain_mask(resolution=4)
    mask = build_mask("mni152", template.shape, template.affine)
    assert mask.sum() == int(np.asarray(template.dataobj).sum())


def test_remove_drift_matches_nilearn_cosine_basis_and_keeps_fast_signal(rng):
    from nilearn.signal import create_cosine_drift

    from syncact.brain import remove_drift

    n, tr = 200, 1.0
    t = np.arange(n)
    fast = np.sin(2 * np.pi * 0.1 * t)  # 0.1 Hz, well above the cut-off
    drift = 5 * np.cos(np.pi * 2 * (t + 0.5) / n) + 0.05 * t
    x = np.column_stack([fast + drift, rng.normal(size=n).cumsum()])
    cleaned = remove_drift(x.copy(), tr, high_pass=0.01)
    basis = np.column_stack([create_cosine_drift(0.01, t * tr), t])
    reference = x - basis @ np.linalg.lstsq(basis, x, rcond=None)[0]
    np.testing.assert_allclose(cleaned, reference, atol=1e-8)
    assert np.corrcoef(cleaned[:, 0], fast)[0, 1] > 0.99
