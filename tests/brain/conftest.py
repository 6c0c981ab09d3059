"""Builders of small datasets in every layout syncact reads (written with nibabel, on an MNI-aligned 6 mm grid)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

SHAPE = (34, 40, 33)  # covers nilearn's MNI152 box at 6 mm


def _affine(step: float = 6.0) -> np.ndarray:
    aff = np.diag([step, step, step, 1.0])
    aff[:3, 3] = (-98.0, -134.0, -72.0)  # nilearn's MNI152 origin
    return aff


def write_bold(path: Path, n: int = 24, *, tr: float = 2.0, seed: int = 0, shape=SHAPE, affine=None,
               sidecar_tr: float | None = None) -> Path:
    """A 4D run: smooth signal + noise around 1000 (int16 like scanners write), with a JSON sidecar."""
    rng = np.random.default_rng(seed)
    data = 1000 + 20 * rng.standard_normal((*shape, n))
    data += 30 * np.sin(np.arange(n) / 3.0 + seed)  # a shared slow signal
    img = nib.Nifti1Image(np.round(data).astype(np.int16), _affine() if affine is None else affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    side = path.with_name(path.name.replace(".nii.gz", ".json"))
    side.write_text(json.dumps({"RepetitionTime": tr if sidecar_tr is None else sidecar_tr}))
    return path


def write_confounds(path: Path, n: int, seed: int = 0) -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {c: rng.standard_normal(n) for c in ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter",
                                                 "csf", "global_signal")}
    for c in ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"):
        d = np.r_[np.nan, np.diff(cols[c])]
        cols[f"{c}_derivative1"] = d
        cols[f"{c}_power2"] = cols[c] ** 2
        cols[f"{c}_derivative1_power2"] = d**2
    pd.DataFrame(cols).to_csv(path, sep="\t", index=False, na_rep="n/a")
    return path


@pytest.fixture
def bids_dataset(tmp_path) -> Path:
    root = tmp_path / "bids"
    (root).mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    for s, sub in enumerate(("01", "02")):
        for run in (1, 2):
            write_bold(root / f"sub-{sub}" / "func" / f"sub-{sub}_task-movie_run-{run}_bold.nii.gz", seed=10 * s + run)
    return root


@pytest.fixture
def fmriprep_dataset(tmp_path) -> Path:
    root = tmp_path / "derivatives" / "fmriprep"
    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "fMRIPrep - fMRI PREProcessing workflow",
                                                               "GeneratedBy": [{"Name": "fMRIPrep", "Version": "24.1.0"}]}))
    for s, sub in enumerate(("01", "02")):
        func = root / f"sub-{sub}" / "func"
        prefix = f"sub-{sub}_task-movie_run-1"
        write_bold(func / f"{prefix}_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz", seed=s)
        write_bold(func / f"{prefix}_space-T1w_desc-preproc_bold.nii.gz", seed=s, shape=(20, 22, 18),
                   affine=np.diag([3.0, 3.0, 3.0, 1.0]))
        write_confounds(func / f"{prefix}_desc-confounds_timeseries.tsv", 24, seed=s)
    return root


def write_cifti(path: Path, n: int = 24, *, tr: float = 1.0, seed: int = 0, cortex: bool = True) -> Path:
    """A dense time series with two small cortical surfaces and one subcortical structure."""
    from nibabel.cifti2 import cifti2_axes as ax

    parts = []
    if cortex:
        parts += [ax.BrainModelAxis.from_surface(np.arange(40), 60, name="CortexLeft"),
                  ax.BrainModelAxis.from_surface(np.arange(35), 60, name="CortexRight")]
    vol = np.zeros((5, 5, 5), dtype=bool)
    vol[1:3, 1:4, 2] = True
    parts.append(ax.BrainModelAxis.from_mask(vol, name="thalamus_left", affine=np.diag([2.0, 2.0, 2.0, 1.0])))
    models = parts[0]
    for p in parts[1:]:
        models = models + p
    series = ax.SeriesAxis(start=0.0, step=tr, size=n, unit="SECOND")
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, models.size)).astype(np.float32) + np.sin(np.arange(n) / 3.0)[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Cifti2Image(data, header=(series, models)), path)
    return path


@pytest.fixture
def hcp_dataset(tmp_path) -> Path:
    root = tmp_path / "hcp"
    for s, subject in enumerate(("100610", "102311")):
        for movie, pe in ((1, "AP"), (2, "PA")):
            name = f"tfMRI_MOVIE{movie}_7T_{pe}"
            d = root / subject / "MNINonLinear" / "Results" / name
            write_bold(d / f"{name}.nii.gz", tr=1.0, seed=s * 10 + movie)
            d.joinpath(f"{name}.json").unlink()  # HCP ships no sidecars: the header TR is used
            write_cifti(d / f"{name}_Atlas_MSMAll_hp2000_clean.dtseries.nii", seed=s * 10 + movie)
    return root


@pytest.fixture
def builders():
    """The writers above, for tests that damage or extend a dataset."""
    return {"bold": write_bold, "cifti": write_cifti, "confounds": write_confounds}
