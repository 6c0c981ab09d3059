"""Find and read BOLD runs of a BIDS dataset with nibabel.

Each run is checked before its data are read: 4D, a repetition time that the NIfTI header and the
JSON sidecar agree on, and the same voxel grid as the other runs.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from syncact._validation import check_dir, check_file, check_finite, check_tr_agree
from syncact.exceptions import CorruptFileError, DataError, MissingFileError, ShapeError

logger = logging.getLogger(__name__)

_ENTITY = re.compile(r"(sub|ses|task|run)-([a-zA-Z0-9]+)")


@dataclass(frozen=True)
class BoldRun:
    """One BOLD run on disk and what its header and sidecar say.

    Attributes
    ----------
    path : Path
        The 4D NIfTI file.
    subject, run : str
        BIDS labels (``run`` is "1" when the file has no run entity).
    task : str
    tr : float
        Repetition time in seconds (header and sidecar agree).
    shape : tuple of int
        Spatial shape of the grid.
    n_timepoints : int
    affine : ndarray of shape (4, 4)
    """

    path: Path
    subject: str
    run: str
    task: str
    tr: float
    shape: tuple[int, int, int]
    n_timepoints: int
    affine: np.ndarray


def _sidecar_tr(path: Path, root: Path | None) -> float | None:
    """RepetitionTime from the run's JSON sidecar, or the dataset-level task sidecar (BIDS inheritance)."""
    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    candidates = [path.with_name(stem + ".json")]
    if root is not None:
        task = dict(_ENTITY.findall(path.name)).get("task")
        if task:
            candidates.append(root / f"task-{task}_bold.json")
    for cand in candidates:
        if cand.is_file():
            try:
                meta = json.loads(cand.read_text())
            except json.JSONDecodeError as exc:
                raise CorruptFileError(f"sidecar {str(cand)!r} is not valid JSON ({exc}).") from exc
            if "RepetitionTime" in meta:
                return float(meta["RepetitionTime"])
    return None


def inspect_run(path: str | Path, *, root: Path | None = None) -> BoldRun:
    """Read the header of one BOLD file and check it, without loading the data.

    Raises
    ------
    MissingFileError, CorruptFileError, ShapeError, DataError
    """
    path = check_file(path, "BOLD file")
    try:
        img = nib.load(path)
    except Exception as exc:  # nibabel raises several types for a broken file
        raise CorruptFileError(f"BOLD file {str(path)!r} cannot be read by nibabel ({exc}).") from exc
    if len(img.shape) != 4:
        raise ShapeError(
            f"BOLD file {str(path)!r} is {len(img.shape)}D with shape {img.shape}; a run must be 4D "
            "(x, y, z, time). Pass the 4D time series, not a single volume or a map."
        )
    if img.shape[3] < 3:
        raise ShapeError(f"BOLD file {str(path)!r} has only {img.shape[3]} volumes.")
    zooms = img.header.get_zooms()
    header_tr = float(zooms[3]) if len(zooms) > 3 else 0.0
    unit = img.header.get_xyzt_units()[1]
    if unit == "msec":
        header_tr /= 1000.0
    sidecar_tr = _sidecar_tr(path, root)
    if sidecar_tr is not None and header_tr > 0:
        tr = check_tr_agree(str(path), header_tr, sidecar_tr)
    elif sidecar_tr is not None:
        tr = sidecar_tr
    elif header_tr > 0:
        tr = header_tr
    else:
        raise DataError(f"BOLD file {str(path)!r}: no repetition time in the header or a JSON sidecar; add RepetitionTime to its sidecar.")
    entities = dict(_ENTITY.findall(path.name))
    return BoldRun(
        path=path,
        subject=entities.get("sub", path.parent.parent.name.removeprefix("sub-")),
        run=entities.get("run", "1").lstrip("0") or "0",
        task=entities.get("task", ""),
        tr=tr,
        shape=tuple(int(s) for s in img.shape[:3]),
        n_timepoints=int(img.shape[3]),
        affine=np.asarray(img.affine),
    )


def find_bids_runs(root: str | Path, *, task: str | None = None) -> list[BoldRun]:
    """All BOLD runs of a BIDS dataset, sorted by subject then run, checked for a common grid.

    Parameters
    ----------
    root : str or Path
        BIDS dataset root (holds ``sub-*/func/*_bold.nii[.gz]``; sessions are allowed).
    task : str or None, default=None
        Keep only this task.

    Returns
    -------
    list of BoldRun

    Raises
    ------
    MissingFileError
        No run was found.
    DataError
        Runs differ in voxel grid or repetition time.
    """
    root = check_dir(root, "BIDS root", hint="Point it at the folder that holds dataset_description.json and sub-*/.")
    pattern = "sub-*/**/func/*_bold.nii*"
    files = sorted(p for p in root.glob(pattern) if p.name.endswith((".nii", ".nii.gz")))
    if task is not None:
        files = [p for p in files if f"task-{task}_" in p.name]
    if not files:
        what = f" for task {task!r}" if task else ""
        raise MissingFileError(f"no BOLD runs{what} under {str(root)!r} (looked for {pattern}).")
    runs = [inspect_run(p, root=root) for p in files]
    runs.sort(key=lambda r: (r.subject, _run_key(r.run)))
    check_same_grid(runs)
    trs = {r.tr for r in runs}
    if len(trs) > 1:
        detail = ", ".join(f"{r.path.name}: {r.tr:g} s" for r in runs[:6])
        raise DataError(f"BOLD runs under {str(root)!r} have different repetition times ({detail}); analyse them separately.")
    return runs


def _run_key(run: str) -> tuple[int, str]:
    return (int(run), run) if run.isdigit() else (10**9, run)


def check_same_grid(runs: list[BoldRun]) -> None:
    """Raise DataError unless every run shares the first run's spatial shape and affine."""
    ref = runs[0]
    for run in runs[1:]:
        if run.shape != ref.shape or not np.allclose(run.affine, ref.affine, atol=1e-3):
            raise DataError(
                f"{run.path.name} has voxel grid {run.shape} with affine diagonal {np.diag(run.affine)[:3]} "
                f"but {ref.path.name} has {ref.shape} with {np.diag(ref.affine)[:3]}; resample all runs to one grid "
                "(e.g. MNI152 at 4 mm with nilearn.image.resample_to_img) before running syncact."
            )


def load_run_matrix(run: BoldRun, mask: np.ndarray) -> np.ndarray:
    """Read one run's voxels inside ``mask`` as a (time, voxel) float32 matrix.

    Parameters
    ----------
    run : BoldRun
    mask : ndarray of bool, shape ``run.shape``

    Returns
    -------
    ndarray of shape (n_timepoints, n_voxels), float32
    """
    if mask.shape != run.shape:
        raise ShapeError(f"mask has shape {mask.shape} but {run.path.name} has grid {run.shape}.")
    try:
        img = nib.load(run.path)
        data = np.asarray(img.dataobj, dtype=np.float32) if img.dataobj.slope in (1, None) else img.get_fdata(dtype=np.float32)
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise CorruptFileError(f"BOLD file {str(run.path)!r} is truncated or corrupt ({exc}); re-download or re-export it.") from exc
    matrix = np.ascontiguousarray(data[mask].T)
    check_finite(f"BOLD file {str(run.path)!r}", matrix, fix="mask those voxels out or fix the preprocessing")
    return matrix
