import gzip

import numpy as np
import pytest

from syncact.brain.layouts import detect_layout, scan_dataset
from syncact.exceptions import DataError, MissingFileError


def test_each_layout_is_detected_and_read(bids_dataset, fmriprep_dataset, hcp_dataset, tmp_path):
    assert detect_layout(bids_dataset) == "bids"
    assert detect_layout(fmriprep_dataset) == "fmriprep"
    assert detect_layout(hcp_dataset) == "hcp"
    info = scan_dataset(bids_dataset)
    assert info.layout == "bids" and info.subjects == ["01", "02"] and info.run_labels == ["1", "2"]
    assert info.tr == 2.0 and not info.problems
    assert "bids layout" in info.summary() and "problems: none" in info.summary()
    np.save(tmp_path / "sub-01_run-1.npy", np.zeros((10, 7), dtype=np.float32))
    arrays = scan_dataset(tmp_path / "sub-01_run-1.npy", tr=1.5)
    assert arrays.layout == "arrays" and arrays.runs[0].shape == (7,) and arrays.runs[0].tr == 1.5


def test_fmriprep_picks_the_mni_space_and_its_confounds(fmriprep_dataset):
    info = scan_dataset(fmriprep_dataset)
    assert {r.space for r in info.runs} == {"MNI152NLin2009cAsym"} and len(info.runs) == 2
    assert all(r.confounds is not None and r.confounds.name.endswith("confounds_timeseries.tsv") for r in info.runs)
    assert "spaces available: MNI152NLin2009cAsym, T1w; using MNI152NLin2009cAsym" in info.summary()
    native = scan_dataset(fmriprep_dataset, space="T1w")
    assert native.runs[0].shape == (20, 22, 18)
    for p in fmriprep_dataset.rglob("*space-MNI*"):
        p.unlink()
    with pytest.raises(DataError, match="MNI space 'MNI152NLin2009cAsym' was asked.*T1w.*--output-spaces"):
        scan_dataset(fmriprep_dataset)


def test_hcp_volume_and_cifti(hcp_dataset):
    vol = scan_dataset(hcp_dataset)
    assert vol.layout == "hcp" and vol.subjects == ["100610", "102311"] and vol.run_labels == ["1", "2"]
    assert vol.tr == 1.0 and vol.runs[0].space == "MNI152NLin6Asym"
    cifti = scan_dataset(hcp_dataset, hcp_data="cifti")
    assert {r.kind for r in cifti.runs} == {"cifti"} and cifti.runs[0].shape == (40 + 35 + 6,) and cifti.tr == 1.0


def test_cifti_with_unexpected_brain_models_is_named(hcp_dataset, builders):
    import nibabel as nib

    f = next(hcp_dataset.rglob("*.dtseries.nii"))
    builders["cifti"](f, cortex=False)
    info = scan_dataset(hcp_dataset, hcp_data="cifti")
    assert any("lacks CIFTI_STRUCTURE_CORTEX_LEFT" in p and f.name in p for p in info.problems)
    with pytest.raises(DataError, match="CORTEX_LEFT"):
        info.check()
    assert nib.load(f).shape[0] == 24  # the file was only read


def test_problems_are_collected_not_raised_one_by_one(bids_dataset, builders):
    write_bold = builders["bold"]
    func = bids_dataset / "sub-02" / "func"
    (func / "sub-02_task-movie_run-2_bold.nii.gz").unlink()  # a missing run
    write_bold(func / "sub-02_task-movie_run-1_bold.nii.gz", n=20)  # another length for the same movie
    func3 = bids_dataset / "sub-03" / "func"
    write_bold(func3 / "sub-03_task-movie_run-1_bold.nii.gz", sidecar_tr=1.5)  # sidecar disagrees with the header
    write_bold(func3 / "sub-03_task-movie_run-2_bold.nii.gz")
    info = scan_dataset(bids_dataset)
    text = "\n".join(info.problems)
    assert "run 1 has different lengths across subjects (sub-01: 24, sub-02: 20)" in text
    assert "run 2 is missing for subject(s) 02" in text
    assert "run 1 is missing for subject(s) 03" in text
    assert "sub-03_task-movie_run-1_bold.nii.gz" in text and "1.5" in text
    with pytest.raises(DataError, match=r"4 problem\(s\)"):
        info.check()


def test_corrupt_3d_and_mismatched_files(bids_dataset, tmp_path, builders):
    import nibabel as nib

    write_bold = builders["bold"]
    func = bids_dataset / "sub-01" / "func"
    target = func / "sub-01_task-movie_run-1_bold.nii.gz"
    target.write_bytes(gzip.compress(b"not a nifti"))
    img3d = nib.Nifti1Image(np.zeros((4, 4, 4), dtype=np.float32), np.eye(4))
    nib.save(img3d, func / "sub-01_task-movie_run-2_bold.nii.gz")
    write_bold(bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-2_bold.nii.gz", affine=np.diag([5.0, 5.0, 5.0, 1.0]))
    info = scan_dataset(bids_dataset)
    text = "\n".join(info.problems)
    assert "sub-01_task-movie_run-1_bold.nii.gz" in text and "cannot be read" in text
    assert "is 3D" in text
    assert "another affine" in text and "target='mni152'" in text
    with pytest.raises(MissingFileError, match="no known layout"):
        detect_layout(tmp_path / "bids" / "sub-01")


def test_truncated_and_uncompressed_short_files_are_found_by_inspect(bids_dataset, hcp_dataset):
    """inspect checks every file against its header in O(1): a truncated .nii.gz (the gzip trailer is missing),
    a short .nii and a truncated CIFTI are problems that name the file, before preparation reads them."""
    import nibabel as nib

    func = bids_dataset / "sub-01" / "func"
    gz = func / "sub-01_task-movie_run-1_bold.nii.gz"
    gz.write_bytes(gz.read_bytes()[:-2000])
    plain = func / "sub-01_task-movie_run-2_bold.nii"
    nib.save(nib.load(func / "sub-01_task-movie_run-2_bold.nii.gz"), plain)
    (func / "sub-01_task-movie_run-2_bold.nii.gz").unlink()
    plain.write_bytes(plain.read_bytes()[:-100])
    text = "\n".join(scan_dataset(bids_dataset).problems)
    assert "sub-01_task-movie_run-1_bold.nii.gz" in text and "truncated or corrupt" in text
    assert "sub-01_task-movie_run-2_bold.nii" in text and "is truncated:" in text
    cifti = next(hcp_dataset.glob("*/MNINonLinear/Results/*/*.dtseries.nii"))
    cifti.write_bytes(cifti.read_bytes()[:-50])
    assert any(cifti.name in p and "truncated" in p for p in scan_dataset(hcp_dataset, hcp_data="cifti").problems)


def test_complete_files_raise_no_problem(bids_dataset, hcp_dataset):
    assert scan_dataset(bids_dataset).problems == []
    assert scan_dataset(hcp_dataset, hcp_data="cifti").problems == []


def test_deep_inspection_finds_damage_inside_a_compressed_stream(bids_dataset):
    """Bytes flipped in the middle of a .nii.gz keep its size and gzip trailer: only reading it all finds it."""
    gz = bids_dataset / "sub-02" / "func" / "sub-02_task-movie_run-2_bold.nii.gz"
    data = bytearray(gz.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])
    gz.write_bytes(bytes(data))
    assert scan_dataset(bids_dataset).problems == []  # the O(1) check cannot see it
    problems = scan_dataset(bids_dataset, deep=True).problems
    assert len(problems) == 1 and gz.name in problems[0] and "cannot be read to the end" in problems[0]
