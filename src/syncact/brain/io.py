"""Read and check one BOLD file's header with nibabel, without loading its data.

A run must be 4D with a repetition time that the NIfTI header and the JSON sidecar (or the
dataset-level task sidecar) agree on. Dataset discovery lives in :mod:`syncact.brain.layouts`.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from syncact._validation import check_file, check_tr_agree
from syncact.exceptions import CorruptFileError, DataError, ShapeError

logger = logging.getLogger(__name__)

_ENTITY = re.compile(r"(sub|ses|task|run)-([a-zA-Z0-9]+)")


@dataclass(frozen=True)
class RunSource:
    """One run on disk, as far as its header tells.

    Attributes
    ----------
    path : Path
    subject, run, task : str
        Labels; ``run`` is the label that pairs runs of different subjects with the same movie.
    kind : {"nifti", "cifti", "array"}
    n_timepoints : int
    tr : float or None
        Repetition time in seconds (None for arrays until the user gives it).
    shape : tuple of int
        Spatial grid (x, y, z) for NIfTI; (n_grayordinates,) for CIFTI; (n_features,) for arrays.
    affine : ndarray of shape (4, 4) or None
    space : str or None
        Template space when the layout says (fMRIPrep ``space-``; "MNI152NLin6Asym" for HCP volumes).
    confounds : Path or None
        fMRIPrep confounds table of the run.
    """

    path: Path
    subject: str
    run: str
    kind: str
    n_timepoints: int
    tr: float | None
    shape: tuple[int, ...]
    affine: np.ndarray | None = None
    task: str = ""
    space: str | None = None
    confounds: Path | None = None

    @property
    def key(self) -> str:
        return f"sub-{self.subject}_run-{self.run}"


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


def inspect_run(path: str | Path, *, root: Path | None = None) -> RunSource:
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
    return RunSource(
        path=path,
        subject=entities.get("sub", path.parent.parent.name.removeprefix("sub-")),
        run=entities.get("run", "1").lstrip("0") or "0",
        kind="nifti",
        n_timepoints=int(img.shape[3]),
        tr=tr,
        shape=tuple(int(s) for s in img.shape[:3]),
        affine=np.asarray(img.affine),
        task=entities.get("task", ""),
    )


def unreadable_data(path: str | Path, *, block: int = 50) -> str | None:
    """Why the data of a NIfTI or CIFTI file cannot be read to the end, or None when every volume reads.

    The deep check behind ``syncact inspect --deep``: it decompresses and reads the whole file, ``block``
    volumes (or rows) at a time, so it finds what :func:`incomplete_file` cannot (a damaged gzip stream whose
    trailer is intact fails the CRC at the end of the stream; non-finite values are left to preparation).
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):  # decompress to the end: the gzip CRC and length are checked there
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass
        proxy = nib.load(path).dataobj
        n = proxy.shape[-1] if len(proxy.shape) == 4 else proxy.shape[0]
        for start in range(0, n, block):
            part = slice(start, min(start + block, n))
            np.asarray(proxy[..., part] if len(proxy.shape) == 4 else proxy[part])
    except Exception as exc:  # noqa: BLE001 - any failure to read is the problem to report
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        return f"{str(path)!r} cannot be read to the end ({type(exc).__name__}: {reason}); re-download or re-export it."
    return None


def incomplete_file(path: str | Path) -> str | None:
    """Why a NIfTI or CIFTI file is shorter than its header says, or None when it is complete.

    O(1) per file: the header gives the size of the data (offset + voxels x volumes x bytes); a ``.gz`` file
    ends with the size of its uncompressed content (the gzip trailer, modulo 2^32), which a truncated file
    does not carry (its last bytes are then compressed data); an uncompressed file must be at least that long.
    """
    path = Path(path)
    try:
        proxy = nib.load(path).dataobj  # the file's own data offset (a loaded header's is reset to 0)
        expected = int(proxy.offset) + int(np.prod(proxy.shape)) * np.dtype(proxy.dtype).itemsize
        if path.name.endswith(".gz"):
            with open(path, "rb") as fh:
                if fh.read(2) != b"\x1f\x8b":
                    return f"{str(path)!r} is named .gz but is not gzip-compressed; rename or re-export it."
                fh.seek(-4, 2)
                stored = struct.unpack("<I", fh.read(4))[0]
            if stored != expected % 2**32:
                return (f"{str(path)!r} is truncated or corrupt: its header promises {expected} bytes of data but the "
                        "gzip stream does not end there; re-download or re-export it.")
            return None
        size = path.stat().st_size
    except (OSError, ValueError, EOFError, AttributeError, gzip.BadGzipFile, nib.filebasedimages.ImageFileError) as exc:
        return f"{str(path)!r} cannot be read ({type(exc).__name__}: {exc}); re-download or re-export it."
    if size < expected:
        return f"{str(path)!r} is truncated: {size} bytes but its header needs {expected}; re-download or re-export it."
    return None

