"""Prepare a dataset once into a chunked Zarr store that later stages stream from.

For each (subject, run), one at a time, so memory holds one run whatever the number of subjects:

1. read the run in blocks of volumes (NIfTI through nibabel's proxy, CIFTI with nibabel's CIFTI-2 API,
   arrays memory-mapped);
2. volumes: resample each block to the target grid (nilearn's bundled MNI152 at ``resolution`` mm by
   default, continuous interpolation; nothing is done when the run is already on it) and apply the
   group mask;
3. one regression of the mean, linear trend, cosine high-pass and confounds (fMRIPrep columns or
   presets such as ``"motion24+wm_csf"``), equal to ``nilearn.signal.clean``; then a z-score per voxel;
4. write the (time, voxel) float32 array to ``runs/sub-<s>_run-<r>`` under a temporary name and rename
   it into place; a rerun skips runs already written (resume after a kill).

Steps 1-4 of one run are :func:`prepare_run`; with ``workers``/``scheduler`` each run is a unit of
:mod:`syncact.units`, prepared on a Dask worker (runs never share a file, so workers need no lock).

Voxels that are constant (or all zero) in some run cannot be z-scored; they are not an error: each run
stores which voxels were valid and the store's voxel set is the intersection (logged, documented), so
every subject has the same columns for the shared encoder.

Layout of the store::

    prepared.zarr/            attrs: layout, kind, grid shape and affine, TR, parameters, provenance
      mask                    uint8 (x, y, z): the group mask on the target grid (volumes)
      brain_models/           CIFTI: the input's grayordinates (structure, vertex, voxel; syncact.brain.cifti)
      runs/<key>              float32 (time, voxel), attrs: subject, run, source, confounds used
      valid/<key>             bool (voxel,): voxels with a defined z-score in that run
      units/                  what the preparation units did (with workers/scheduler and no units_dir)
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nibabel as nib
import numpy as np
from tqdm.auto import tqdm

from syncact._docs import fill_doc
from syncact._io import bar_disabled
from syncact._validation import check_choice, check_finite, check_positive
from syncact.brain.cifti import SUFFIX as CIFTI_SUFFIX
from syncact.brain.cifti import dscalar, models_from_arrays, models_to_arrays, read_brain_models
from syncact.brain.layouts import DatasetInfo, RunSource, array_shape, read_cifti_header
from syncact.brain.masking import remove_drift, zscore_voxels
from syncact.exceptions import ConfigError, CorruptFileError, DataError, MissingFileError, ShapeError
from syncact.units import Executor

logger = logging.getLogger(__name__)

STORE_VERSION = 1
_MOTION6 = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
CONFOUND_PRESETS: dict[str, list[str]] = {
    "motion6": _MOTION6,
    "motion12": _MOTION6 + [f"{c}_derivative1" for c in _MOTION6],
    "motion24": _MOTION6 + [f"{c}_derivative1" for c in _MOTION6] + [f"{c}_power2" for c in _MOTION6]
    + [f"{c}_derivative1_power2" for c in _MOTION6],
    "wm_csf": ["white_matter", "csf"],
    "global": ["global_signal"],
}


def confound_columns(spec: str | Sequence[str] | None) -> list[str]:
    """Column names from presets joined by "+" (``"motion24+wm_csf"``) or an explicit list."""
    if spec is None or spec == "":
        return []
    if isinstance(spec, str):
        columns: list[str] = []
        for part in spec.split("+"):
            if part in CONFOUND_PRESETS:
                columns += CONFOUND_PRESETS[part]
            else:
                columns.append(part)
        return list(dict.fromkeys(columns))
    return list(dict.fromkeys(spec))


def read_confounds(path: Path, columns: list[str], n_timepoints: int) -> np.ndarray:
    """The chosen columns of an fMRIPrep confounds table as (time, n_columns); leading NaNs (derivatives) -> 0."""
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t")
    except Exception as exc:  # pandas raises several types
        raise CorruptFileError(f"confounds table {str(path)!r} cannot be read ({exc}).") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"confounds table {str(path)!r} lacks column(s) {', '.join(missing)}; "
                        f"it has e.g. {', '.join(list(table.columns)[:8])}.")
    if len(table) != n_timepoints:
        raise DataError(f"confounds table {str(path)!r} has {len(table)} rows but its run has {n_timepoints} volumes.")
    values = table[columns].to_numpy(dtype=np.float64)
    values[np.isnan(values)] = 0.0  # fMRIPrep leaves the first row of derivatives empty
    return values


@dataclass(frozen=True)
class TargetGrid:
    """The voxel grid every run is resampled to, and the group mask on it."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    mask: np.ndarray  # bool (x, y, z)


def target_grid(info: DatasetInfo, target: str = "mni152", *, resolution: int = 4, mask: str | Path = "template") -> TargetGrid:
    """Build the target grid and group mask for a volume dataset.

    Parameters
    ----------
    info : DatasetInfo
    target : {"mni152", "native"}
        nilearn's bundled MNI152 template at ``resolution`` mm, or the runs' own grid (all runs must share it).
    resolution : int, default=4
        Voxel size in mm of the MNI152 target (the paper: 4).
    mask : "template", "intersect" or a path
        The MNI152 brain mask resampled to the grid; the same, later intersected with each run's valid
        voxels (what every prepared store does anyway); or a user mask (resampled nearest-neighbour).
    """
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_img

    check_choice("target", target, ("mni152", "native"))
    if target == "mni152":
        template = load_mni152_brain_mask(resolution=resolution)
        shape, affine = tuple(int(s) for s in template.shape[:3]), np.asarray(template.affine)
    else:
        ref = info.runs[0]
        if ref.affine is None or len(ref.shape) != 3:
            raise ConfigError("target='native' needs volume runs; CIFTI and arrays are prepared as they are.")
        shape, affine = ref.shape, ref.affine
        odd = [r.path.name for r in info.runs if r.shape != shape or not np.allclose(r.affine, affine, atol=1e-3)]
        if odd:
            raise DataError(f"target='native' needs one grid but {', '.join(odd[:5])} differ from {ref.path.name}; "
                            "use target='mni152' to resample every run.")
    if str(mask) in ("template", "intersect"):
        mask_img = load_mni152_brain_mask(resolution=resolution)
    else:
        path = Path(mask)
        if not path.is_file():
            raise MissingFileError(f"mask {str(path)!r} does not exist; give a NIfTI mask or 'template'.")
        try:
            mask_img = nib.load(path)
        except Exception as exc:
            raise CorruptFileError(f"mask {str(path)!r} cannot be read by nibabel ({exc}).") from exc
        if len(mask_img.shape) != 3:
            raise ShapeError(f"mask {str(path)!r} has shape {mask_img.shape}; a mask is one 3D volume.")
    if mask_img.shape[:3] != shape or not np.allclose(mask_img.affine, affine, atol=1e-3):
        mask_img = resample_img(mask_img, target_affine=affine, target_shape=shape, interpolation="nearest",
                                force_resample=True, copy_header=True)
    data = np.asarray(mask_img.dataobj) > 0
    if not data.any():
        raise DataError(f"mask {mask!s} has no voxel on the target grid; check that it is in the same space.")
    return TargetGrid(shape, affine, data)


# --------------------------------------------------------------------------------------------------
# reading one run as (time, features)
# --------------------------------------------------------------------------------------------------
def _volume_blocks(run: RunSource, grid: TargetGrid, block: int) -> Iterator[np.ndarray]:
    """(volumes, voxels in mask) blocks of one NIfTI run on the target grid."""
    from nilearn.image import resample_img

    try:
        img = nib.load(run.path, keep_file_open=True)
        same = img.shape[:3] == grid.shape and np.allclose(img.affine, grid.affine, atol=1e-3)
        for t0 in range(0, run.n_timepoints, block):
            part = img.slicer[..., t0 : min(t0 + block, run.n_timepoints)]
            if not same:
                with warnings.catch_warnings():  # integer data is resampled in float32, as intended
                    warnings.filterwarnings("ignore", message="Casting data from")
                    part = resample_img(part, target_affine=grid.affine, target_shape=grid.shape,
                                        interpolation="continuous", force_resample=True, copy_header=True)
            data = np.asarray(part.get_fdata(dtype=np.float32))
            yield np.ascontiguousarray(data[grid.mask].T)
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise CorruptFileError(f"BOLD file {str(run.path)!r} is truncated or corrupt ({exc}); re-download or re-export it.") from exc


def read_run(run: RunSource, grid: TargetGrid | None = None, *, block: int = 100) -> np.ndarray:
    """One run as a (time, features) float32 matrix: masked voxels, grayordinates or array columns."""
    if run.kind == "nifti":
        if grid is None:
            raise ConfigError("volume runs need a target grid (see target_grid).")
        matrix = np.concatenate(list(_volume_blocks(run, grid, block)))
    elif run.kind == "cifti":
        read_cifti_header(run.path)  # re-checks the brain models
        try:
            matrix = np.asarray(nib.load(run.path).get_fdata(dtype=np.float32))
        except Exception as exc:
            raise CorruptFileError(f"CIFTI file {str(run.path)!r} is truncated or corrupt ({exc}).") from exc
    else:
        array_shape(run.path)
        if run.path.suffix == ".npy":
            matrix = np.asarray(np.load(run.path, mmap_mode="r"), dtype=np.float32)
        else:
            import h5py

            with h5py.File(run.path, "r") as h5:
                matrix = np.asarray(h5["data"], dtype=np.float32)
    if matrix.shape[0] != run.n_timepoints:
        raise CorruptFileError(f"{str(run.path)!r} gave {matrix.shape[0]} volumes but its header says {run.n_timepoints}.")
    check_finite(repr(str(run.path)), matrix, fix="fix the preprocessing or mask those voxels out (mask = 'path/to/mask.nii.gz')")
    return matrix


def clean_run(matrix: np.ndarray, tr: float, *, detrend: bool = True, high_pass: float | None = 0.01,
              confounds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Remove the mean, linear trend, cosine drifts below ``high_pass`` and confounds; then z-score each column.

    The regression is :func:`syncact.brain.remove_drift` (one projection on the joint basis), which equals
    ``nilearn.signal.clean(detrend=True, filter="cosine", confounds=...)`` (checked in the tests).

    Returns
    -------
    cleaned : ndarray of shape (n_timepoints, n_features), float32
        Z-scored; columns without variance are set to 0.
    valid : ndarray of shape (n_features,), bool
        Columns whose z-score is defined (non-constant before and after cleaning).
    """
    matrix = np.array(matrix, dtype=np.float32)
    raw_std = matrix.std(axis=0, dtype=np.float64)
    raw_mean = np.abs(matrix.mean(axis=0, dtype=np.float64))
    valid = raw_std > 1e-6 * np.maximum(raw_mean, 1.0)
    matrix = remove_drift(matrix, tr, high_pass or None, detrend=detrend, confounds=confounds)
    std = matrix.std(axis=0, dtype=np.float64)
    valid &= std > 1e-8 * np.maximum(raw_mean, 1.0)
    out = np.zeros_like(matrix)
    out[:, valid] = zscore_voxels(matrix[:, valid], source="run")
    return out, valid


# --------------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preparation:
    """How the runs of one store are prepared: where they go, on which grid, with which cleaning.

    Made by :func:`begin_store`; :func:`prepare_run` needs nothing else, so one run can be prepared on any
    worker that sees the store's folder.
    """

    store: Path
    grid: TargetGrid | None
    detrend: bool
    high_pass: float | None
    confounds: tuple[str, ...]
    block: int = 100


def begin_store(
    info: DatasetInfo,
    out: str | Path,
    *,
    target: str = "mni152",
    resolution: int = 4,
    mask: str | Path = "template",
    detrend: bool = True,
    high_pass: float | None = 0.01,
    confounds: str | Sequence[str] | None = None,
    block: int = 100,
) -> tuple[Preparation, list[RunSource]]:
    """Create (or reopen) a store, check it against the parameters and the data, and say what is left to do.

    Parameters are those of :func:`prepare_dataset`.

    Returns
    -------
    preparation : Preparation
    todo : list of RunSource
        The runs of ``info`` not yet in the store.

    Raises
    ------
    ConfigError
        The store was made with other parameters, or one of its runs came from a file that has changed since.
    """
    import zarr

    info.check()
    check_positive("block", block, integer=True)
    columns = confound_columns(confounds)
    if columns:
        lacking = [r.path.name for r in info.runs if r.confounds is None]
        if lacking:
            raise DataError(f"confounds {columns[:3]}... asked but {', '.join(lacking[:4])} have no confounds table "
                            "(fMRIPrep's *_desc-confounds_timeseries.tsv).")
    kind = info.runs[0].kind
    grid = target_grid(info, target, resolution=resolution, mask=mask) if kind == "nifti" else None
    params = {"layout": info.layout, "kind": kind, "target": target if grid else None,
              "resolution": resolution if grid and target == "mni152" else None, "mask": str(mask) if grid else None,
              "detrend": bool(detrend), "high_pass": high_pass, "confounds": columns, "version": STORE_VERSION}
    out = Path(out)
    root = zarr.open_group(str(out), mode="a", zarr_format=3)
    stored = root.attrs.get("params")
    if stored is not None and stored != params:
        raise ConfigError(f"store {str(out)!r} was prepared with other parameters ({stored}); delete it or choose "
                          "another path ([data] prepared in the config, --out for `syncact prepare`).")
    if stored is None:
        root.attrs.update({"params": params, "source": str(info.root), "tr": info.tr, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                           "grid_shape": list(grid.shape) if grid else None,
                           "affine": grid.affine.tolist() if grid else None})
        if grid is not None:
            root.create_array("mask", data=grid.mask.astype(np.uint8), chunks=grid.mask.shape)
        if kind == "cifti":
            _, _, structures = read_cifti_header(info.runs[0].path)
            root.attrs["structures"] = {k: [s.start, s.stop] for k, s in structures.items()}
            arrays, attrs = models_to_arrays(read_brain_models(info.runs[0].path))
            group = root.require_group("brain_models")
            for name, values in arrays.items():
                group.create_array(name, data=values, chunks=values.shape)
            group.attrs.update(attrs)
    for name in ("runs", "valid"):
        root.require_group(name)
    todo = [r for r in info.runs if not (out / "runs" / r.key / "zarr.json").exists()]
    for r in info.runs:
        if r not in todo:
            written = root[f"runs/{r.key}"].attrs.get("source_stat")
            if written != _stat(r.path):
                raise ConfigError(f"store {str(out)!r} holds {r.key} prepared from {written} but {r.path} is now "
                                  f"{_stat(r.path)}; the data changed: delete the store or prepare into a new one.")
    if len(todo) < len(info.runs):
        logger.info("%s: %d of %d runs already prepared; preparing the rest", out, len(info.runs) - len(todo), len(info.runs))
    return Preparation(out, grid, bool(detrend), high_pass, tuple(columns), block), todo


def prepare_run(run: RunSource, preparation: Preparation) -> dict[str, object]:
    """Read, resample, clean and z-score one run and write it into the store (nothing is done if it is there).

    Parameters
    ----------
    run : RunSource
    preparation : Preparation
        From :func:`begin_store`.

    Returns
    -------
    dict
        ``key`` (``sub-<s>_run-<r>``), ``n_timepoints`` and ``n_valid`` (voxels with a defined z-score).
    """
    out = preparation.store
    if (out / "runs" / run.key / "zarr.json").exists():
        import zarr

        valid = np.asarray(zarr.open_array(str(out / "valid" / run.key), mode="r")[...], dtype=bool)
        return {"key": run.key, "n_timepoints": run.n_timepoints, "n_valid": int(valid.sum())}
    columns = list(preparation.confounds)
    if run.kind == "cifti" and (out / "brain_models" / "zarr.json").is_file():
        _check_same_models(run, out)
    matrix = read_run(run, preparation.grid, block=preparation.block)
    conf = read_confounds(run.confounds, columns, run.n_timepoints) if columns else None
    if conf is not None and conf.shape[1] + 2 >= run.n_timepoints:
        raise DataError(f"{run.path.name}: {conf.shape[1]} confound columns leave no degrees of freedom in "
                        f"{run.n_timepoints} volumes; choose fewer (e.g. confounds='motion6+wm_csf').")
    cleaned, valid = clean_run(matrix, float(run.tr), detrend=preparation.detrend, high_pass=preparation.high_pass,
                               confounds=conf)
    del matrix
    if not valid.any():
        raise DataError(f"BOLD file {str(run.path)!r}: no voxel in the mask varies over time (the run is all zero or "
                        "constant); re-export it, or leave it out of the dataset.")
    if not valid.all():
        logger.warning("%s: %d of %d voxels are constant (or all zero) and leave the group voxel set",
                       run.path.name, int((~valid).sum()), valid.size)
    _write_atomic(out / "valid" / run.key, valid, {})
    _write_atomic(out / "runs" / run.key, cleaned, {"subject": run.subject, "run": run.run, "source_stat": _stat(run.path),
                                                   "tr": run.tr, "task": run.task, "space": run.space,
                                                   "confounds": str(run.confounds) if columns else None})
    return {"key": run.key, "n_timepoints": run.n_timepoints, "n_valid": int(valid.sum())}


@fill_doc
def prepare_dataset(
    info: DatasetInfo,
    out: str | Path,
    *,
    target: str = "mni152",
    resolution: int = 4,
    mask: str | Path = "template",
    detrend: bool = True,
    high_pass: float | None = 0.01,
    confounds: str | Sequence[str] | None = None,
    block: int = 100,
    progress: bool = False,
    executor: Executor | None = None,
    units_dir: str | Path | None = None,
) -> PreparedStore:
    """Write every run of ``info`` to a Zarr store, one run at a time (see the module docstring).

    Parameters
    ----------
    info : DatasetInfo
        From :func:`syncact.brain.scan_dataset`; its problems must be fixed first.
    out : str or Path
        The store (a directory ending in ``.zarr``). Runs already in it are skipped, so a killed preparation
        resumes; a store made with other parameters is refused.
    target, resolution, mask
        See :func:`target_grid` (volumes only).
    detrend, high_pass : bool, float or None
        Linear detrend and cosine high-pass cutoff in Hz (None disables it).
    confounds : str or list of str, optional
        fMRIPrep confound columns or presets joined by "+" (``"motion24+wm_csf"``).
    block : int, default=100
        Volumes read (and resampled) at a time; bounds memory with the run length.
    %(progress)s
    %(executor)s
    units_dir : str or Path, optional
        Where the units record what they did (default ``<out>/units``); used on Dask.

    Returns
    -------
    PreparedStore
    """
    preparation, todo = begin_store(info, out, target=target, resolution=resolution, mask=mask, detrend=detrend,
                                    high_pass=high_pass, confounds=confounds, block=block)
    if executor is None or executor.in_process:
        for run in tqdm(todo, desc="prepare", unit="run", disable=bar_disabled(progress), leave=False):
            prepare_run(run, preparation)
    elif todo:
        executor.run(prepare_plan(preparation, todo), units_dir or preparation.store / "units", progress=progress)
    return PreparedStore(preparation.store)


def prepare_plan(preparation: Preparation, runs: Sequence[RunSource], plan=None, *, priority: int = 0):  # noqa: ANN001, ANN201 - syncact.units.Plan
    """One unit ``prepare/<key>`` per run (:func:`prepare_run`), its store files declared as the unit's outputs,
    added to ``plan`` (a new one by default) with ``priority``; returns the plan."""
    from syncact.units import Plan

    plan = Plan() if plan is None else plan
    for run in runs:
        plan.add(f"prepare/{run.key}", prepare_run, run=run, preparation=preparation, priority=priority,
                 outputs=[preparation.store / "runs" / run.key / "zarr.json"])
    return plan


def _read_models(group: object) -> object:
    """The BrainModelAxis a store's ``brain_models`` group holds (:func:`syncact.brain.cifti.models_to_arrays`)."""
    return models_from_arrays({name: group[name][...] for name in ("structure", "vertex", "voxel")}, dict(group.attrs))


def _check_same_models(run: RunSource, store: Path) -> None:
    """Every CIFTI run of a store must have the brain models of its first run (the columns mean the same)."""
    import zarr

    if read_brain_models(run.path) != _read_models(zarr.open_group(str(store / "brain_models"), mode="r")):
        raise ShapeError(f"CIFTI file {str(run.path)!r} has other brain models (grayordinates) than the store's first "
                         "run; resample every run to the same grayordinates (e.g. HCP fsLR 32k, 91,282) first.")


def _stat(path: Path) -> dict[str, object]:
    """What identifies a source file cheaply: its path, size and modification time."""
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_atomic(path: Path, array: np.ndarray, attrs: dict) -> None:
    """Write one Zarr array to a temporary sibling and rename it into place."""
    import zarr

    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    chunks = (min(array.shape[0], 128), min(array.shape[1], 16384)) if array.ndim == 2 else array.shape
    try:
        arr = zarr.create_array(str(tmp), shape=array.shape, dtype=array.dtype, chunks=chunks, zarr_format=3)
        arr[...] = array
        arr.attrs.update(attrs)
        if path.exists():  # a run prepared by another process in the meantime: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Segment:
    """A piece of one run: rows ``start:stop`` of ``sub-<subject>_run-<run>``."""

    subject: str
    run: str
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"sub-{self.subject}_run-{self.run}"


class PreparedStore:
    """Read a store written by :func:`prepare_dataset`.

    Attributes
    ----------
    path : Path
    runs : list of dict
        ``subject``, ``run``, ``n_timepoints`` per prepared run.
    voxels : ndarray of bool, shape (n_mask_voxels,)
        The group voxel set: valid in every run.
    """

    def __init__(self, path: str | Path) -> None:
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").is_file():
            raise MissingFileError(f"{str(self.path)!r} is not a prepared store; run `syncact prepare` first.")
        self._root = zarr.open_group(str(self.path), mode="r", zarr_format=3)
        self.attrs = dict(self._root.attrs)
        keys = sorted(p.name for p in (self.path / "runs").iterdir() if (p / "zarr.json").is_file() and not p.name.startswith("."))
        self.runs = []
        for key in keys:
            arr = self._root[f"runs/{key}"]
            self.runs.append({"subject": arr.attrs["subject"], "run": arr.attrs["run"], "n_timepoints": int(arr.shape[0]),
                              "key": key})
        if not self.runs:
            raise DataError(f"store {str(self.path)!r} holds no prepared run.")
        valid = [np.asarray(self._root[f"valid/{r['key']}"][...], dtype=bool) for r in self.runs]
        self.voxels = np.logical_and.reduce(valid)
        if not self.voxels.any():
            raise DataError(f"store {str(self.path)!r}: its runs share no voxel with a defined z-score (each voxel is "
                            "constant in some run); check the mask and the runs that `syncact inspect` lists.")
        self._columns = np.flatnonzero(self.voxels)

    def __repr__(self) -> str:
        return f"PreparedStore({str(self.path)!r}: {len(self.runs)} runs, {self.n_features} features)"

    def __reduce__(self):  # noqa: ANN204 - pickled as its path (units on Dask workers reopen the store)
        return (type(self), (str(self.path),))

    def content_key(self) -> dict[str, object]:
        """What the store holds, cheaply: its parameters, each run's source file (path, size, mtime) and length,
        and the group voxel set. Two stores with the same key hold the same data (a unit's key uses it)."""
        runs = [{"key": r["key"], "n_timepoints": r["n_timepoints"], "source": self._root[f"runs/{r['key']}"].attrs.get("source_stat")}
                for r in self.runs]
        return {"params": self.attrs.get("params"), "runs": runs, "voxels": hashlib.sha256(np.packbits(self.voxels)).hexdigest()}

    @property
    def tr(self) -> float:
        return float(self.attrs["tr"])

    @property
    def n_features(self) -> int:
        return int(self._columns.size)

    @property
    def subjects(self) -> list[str]:
        return sorted({r["subject"] for r in self.runs})

    def read(self, subject: str, run: str, *, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of one run, group voxels only: (time, n_features) float32."""
        key = f"sub-{subject}_run-{run}"
        if not (self.path / "runs" / key / "zarr.json").is_file():
            known = ", ".join(r["key"] for r in self.runs[:8])
            raise MissingFileError(f"{key} is not in store {str(self.path)!r} (it has {known}...).")
        rows = np.asarray(self._root[f"runs/{key}"][start:stop], dtype=np.float32)
        return rows if self._columns.size == rows.shape[1] else np.ascontiguousarray(rows[:, self._columns])

    def segments(self, length: int | None = None, *, subjects: Sequence[str] | None = None, runs: Sequence[str] | None = None,
                 drop_start: int = 0, drop_end: int = 0) -> list[Segment]:
        """Cut runs into pieces of ``length`` rows after dropping ``drop_start``/``drop_end`` TRs.

        The remainder shorter than ``length`` is left out (the paper cut StudyForrest into 430-TR pieces);
        ``length=None`` gives one segment per run.
        """
        out = []
        for r in self.runs:
            if (subjects is not None and r["subject"] not in subjects) or (runs is not None and r["run"] not in runs):
                continue
            stop = r["n_timepoints"] - drop_end
            if stop - drop_start < 1:
                raise DataError(f"{r['key']} has {r['n_timepoints']} TRs; dropping {drop_start} + {drop_end} leaves none.")
            size = length or (stop - drop_start)
            out += [Segment(r["subject"], r["run"], s, s + size) for s in range(drop_start, stop - size + 1, size)]
        return out

    def iter_batches(self, segments: Sequence[Segment], batch_size: int, *, shuffle: bool = True,
                     seed: int = 0) -> Iterator[np.ndarray]:
        """Batches of equal-length segments, (batch, length, n_features) float32, read segment by segment.

        Memory holds one batch, whatever the number of subjects.
        """
        lengths = {s.stop - s.start for s in segments}
        if len(lengths) != 1:
            raise ShapeError(f"segments must have one length to be batched, got {sorted(lengths)[:5]}.")
        order = np.random.default_rng(seed).permutation(len(segments)) if shuffle else np.arange(len(segments))
        for b in range(0, len(order), batch_size):
            chosen = [segments[i] for i in order[b : b + batch_size]]
            yield np.stack([self.read(s.subject, s.run, start=s.start, stop=s.stop) for s in chosen])

    def runset(self, segments: Sequence[Segment], *, zscore: bool = False) -> StoreRuns:
        """A lazy sequence of the segments' (time, n_features) arrays, read from the store on access.

        ``zscore`` re-standardises each voxel over the segment (for pieces of runs that were z-scored
        whole, e.g. after dropping TRs). :class:`syncact.networks.FBNEmbedding` trains from it without
        holding the voxels of all runs.
        """
        return StoreRuns(self, list(segments), zscore=zscore)

    def mask_img(self) -> nib.Nifti1Image:
        """The group voxel set as a NIfTI mask on the target grid (volume stores); read once (the store is opened
        read-only), so per-map callers (report pictures) do not read it again."""
        if self.attrs.get("grid_shape") is None:
            raise ConfigError(f"store {str(self.path)!r} holds {self.attrs['params']['kind']} data, not volumes.")
        return self._mask_img

    @cached_property
    def _mask_img(self) -> nib.Nifti1Image:
        mask = np.asarray(self._root["mask"][...], dtype=bool)
        full = np.zeros(mask.shape, dtype=np.uint8)
        full[mask] = self.voxels.astype(np.uint8)
        return nib.Nifti1Image(full, np.asarray(self.attrs["affine"]))

    @property
    def kind(self) -> str:
        """``"nifti"`` (volumes on a grid), ``"cifti"`` (grayordinates) or ``"array"``."""
        return str(self.attrs["params"]["kind"])

    def brain_models(self, *, all_columns: bool = False) -> object:
        """The grayordinates of a CIFTI store as a nibabel ``BrainModelAxis``: of its features (default), or of
        every column of the input (``all_columns``). Read once: building the axis took two thirds of a surface
        picture's time when every map read it again."""
        if self.kind != "cifti":
            raise ConfigError(f"store {str(self.path)!r} holds {self.kind} data, not CIFTI grayordinates.")
        if "brain_models" not in self._root:
            raise MissingFileError(f"store {str(self.path)!r} was prepared before stores kept the CIFTI brain models; "
                                   "prepare it again into a new folder to write maps as CIFTI.")
        return self._all_models if all_columns else self._feature_models

    @cached_property
    def _all_models(self) -> object:
        return _read_models(self._root["brain_models"])

    @cached_property
    def _feature_models(self) -> object:
        return self._all_models[self.voxels]

    @property
    def map_suffix(self) -> str:
        """File suffix of :meth:`map_image`'s images: ``.nii.gz`` (volumes) or ``.dscalar.nii`` (grayordinates)."""
        return CIFTI_SUFFIX if self.kind == "cifti" else ".nii.gz"

    def map_image(self, maps: np.ndarray, names: Sequence[str] | None = None) -> nib.spatialimages.SpatialImage:
        """(n_maps, n_features) maps as an image of the input's space: NIfTI on the grid for volume stores
        (:meth:`unmask`), a CIFTI-2 dense scalar with the input's brain models for grayordinates."""
        if self.kind == "cifti":
            maps = np.atleast_2d(maps)
            if maps.shape[1] != self.n_features:
                raise ShapeError(f"maps have {maps.shape[1]} columns but the store has {self.n_features} grayordinates.")
            return dscalar(maps, self.brain_models(), names)
        if self.kind != "nifti":
            raise ConfigError(f"store {str(self.path)!r} holds {self.kind} data: maps have no space to be written in; "
                              "save them as arrays.")
        return self.unmask(maps)

    def unmask(self, maps: np.ndarray) -> nib.Nifti1Image:
        """(n_maps, n_features) -> a 4D NIfTI image on the target grid (volume stores)."""
        img = self.mask_img()
        mask = np.asarray(img.dataobj, dtype=bool)
        maps = np.atleast_2d(maps)
        if maps.shape[1] != self.n_features:
            raise ShapeError(f"maps have {maps.shape[1]} columns but the store has {self.n_features} voxels.")
        out = np.zeros((*mask.shape, maps.shape[0]), dtype=np.float32)
        out[mask] = maps.T
        return nib.Nifti1Image(out, img.affine)


class StoreRuns(Sequence[np.ndarray]):
    """Segments of a prepared store as a sequence of arrays, each read when it is indexed.

    Attributes
    ----------
    shapes : list of (n_timepoints, n_features)
        Known without reading (training code checks shapes before touching data).
    groups : list of str
        Subject of each segment.
    """

    def __init__(self, store: PreparedStore, segments: list[Segment], *, zscore: bool = False) -> None:
        self.store, self.segments, self.zscore = store, segments, zscore
        self.shapes = [(s.stop - s.start, store.n_features) for s in segments]
        self.groups = [s.subject for s in segments]

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice, as a Sequence
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        s = self.segments[index]
        rows = self.store.read(s.subject, s.run, start=s.start, stop=s.stop)
        return zscore_voxels(rows, source=f"{self.store.path}:{s.key}") if self.zscore else rows

    def __repr__(self) -> str:
        return f"StoreRuns({len(self)} segments of {self.store!r})"

    def shard(self, index: int, n_shards: int) -> StoreRuns:
        """Segments ``index::n_shards`` as a lazy sequence of their own (a share of the runs for one worker)."""
        return StoreRuns(self.store, self.segments[index::n_shards], zscore=self.zscore)

    def content_key(self) -> dict[str, object]:
        """The store's key, the segments and the z-scoring: what the sequence holds (a unit's key uses it)."""
        return {"store": self.store.content_key(), "zscore": self.zscore,
                "segments": [[s.subject, s.run, s.start, s.stop] for s in self.segments]}
