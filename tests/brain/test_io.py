import json

import nibabel as nib
import numpy as np
import pytest

from syncact.brain import zscore_voxels
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


def test_inspect_reads_the_header_only(tmp_path, rng):
    path = _write(tmp_path, "01", 2, rng.normal(size=(4, 5, 6, 10)), tr=1.5)
    run = inspect_run(path)
    assert (run.subject, run.run, run.task, run.tr, run.shape, run.n_timepoints) == ("01", "2", "movie", 1.5, (4, 5, 6), 10)
    raw = path.read_bytes()
    path.write_bytes(raw[:40])  # not even a header
    with pytest.raises(CorruptFileError, match="cannot be read by nibabel"):
        inspect_run(path)
    with pytest.raises(MissingFileError, match="nope.nii.gz"):
        inspect_run(tmp_path / "nope.nii.gz")


def test_3d_image_is_rejected(tmp_path, rng):
    path = _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6)))
    with pytest.raises(ShapeError, match="3D.*must be 4D"):
        inspect_run(path)


def test_sidecar_tr_disagreeing_with_header(tmp_path, rng):
    path = _write(tmp_path, "01", 1, rng.normal(size=(4, 5, 6, 10)), tr=2.0, sidecar_tr=1.0)
    with pytest.raises(DataError, match=r"header says TR=2 s but the JSON sidecar says RepetitionTime=1 s"):
        inspect_run(path)


def test_zscore_and_constant_voxels(rng):
    x = rng.normal(5, 2, size=(12, 8)).astype(np.float32)
    z = zscore_voxels(x.copy())
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    x[:, 3] = 7.0
    with pytest.raises(DataError, match="1 voxels inside the mask that are constant"):
        zscore_voxels(x, source="run.nii.gz")


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
