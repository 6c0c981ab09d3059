"""Find the runs of a dataset in any of the layouts users have, and say what was found.

Layouts (``layout="auto"`` picks one from what is on disk):

``"bids"``
    Raw BIDS: ``sub-*/[ses-*/]func/*_bold.nii[.gz]`` with JSON sidecars.
``"fmriprep"``
    fMRIPrep derivatives: ``*_space-<space>[_res-*]_desc-preproc_bold.nii.gz`` with
    ``*_desc-confounds_timeseries.tsv``; one output space is chosen (``space=``) and reported.
``"hcp"``
    The Human Connectome Project layout: ``<subject>/MNINonLinear/Results/tfMRI_MOVIE<n>_7T_<AP|PA>/``
    holding the volume ``tfMRI_MOVIE<n>_7T_<PE>.nii.gz`` and the CIFTI ``*_Atlas*.dtseries.nii``
    (``hcp_data="volume"`` or ``"cifti"``); the run label is the movie number.
``"nifti"``
    A text file listing 4D NIfTI files, one per line (``sub-``/``run-`` entities in the names are used,
    else each file is its own subject); the TR comes from the headers or ``tr=``.
``"arrays"``
    ``.npy`` (or ``.h5`` with a dataset ``data``) files of shape (time, features), named
    ``sub-<s>[_run-<r>]...``; the TR must be given (``tr=``).

:func:`scan_dataset` reads headers only, collects every problem it finds instead of stopping at the
first, and returns a :class:`DatasetInfo` whose :meth:`~DatasetInfo.check` raises with all of them.
Nothing under the dataset root is ever written.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np

from syncact._validation import check_choice, check_tr_agree
from syncact.brain.io import RunSource, incomplete_file, inspect_run, unreadable_data
from syncact.exceptions import ConfigError, CorruptFileError, DataError, MissingFileError, ShapeError, SyncactError

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "bids", "fmriprep", "hcp", "nifti", "arrays")
_ENTITY = re.compile(r"(sub|ses|task|run|space|res)-([a-zA-Z0-9]+)")
_HCP_RUN = re.compile(r"tfMRI_MOVIE(\d+)_7T_(AP|PA)$")
CIFTI_CORTEX = ("CIFTI_STRUCTURE_CORTEX_LEFT", "CIFTI_STRUCTURE_CORTEX_RIGHT")


@dataclass
class DatasetInfo:
    """What :func:`scan_dataset` found: the layout, the runs and the problems."""

    root: Path
    layout: str
    runs: list[RunSource]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return sorted({r.subject for r in self.runs})

    @property
    def run_labels(self) -> list[str]:
        return sorted({r.run for r in self.runs}, key=_run_key)

    @property
    def tr(self) -> float | None:
        trs = {r.tr for r in self.runs}
        return trs.pop() if len(trs) == 1 else None

    def check(self) -> DatasetInfo:
        """Raise DataError listing every problem; return self when there is none."""
        if self.problems:
            listed = "\n  - ".join(self.problems)
            raise DataError(f"{len(self.problems)} problem(s) in {str(self.root)!r} ({self.layout} layout):\n  - {listed}")
        return self

    def to_frame(self):  # noqa: ANN201 - pandas imported lazily
        """One row per run: subject, run, kind, n_timepoints, tr, shape, space, path."""
        import pandas as pd

        return pd.DataFrame([{"subject": r.subject, "run": r.run, "kind": r.kind, "n_timepoints": r.n_timepoints,
                              "tr": r.tr, "shape": "x".join(map(str, r.shape)), "space": r.space or "",
                              "confounds": bool(r.confounds), "path": str(r.path)} for r in self.runs])

    def summary(self) -> str:
        """A few lines for people: layout, subjects, runs, TR, shapes, spaces, problems."""
        shapes = sorted({"x".join(map(str, r.shape)) for r in self.runs})
        spaces = sorted({r.space for r in self.runs if r.space})
        lengths = {}
        for r in self.runs:
            lengths.setdefault(r.run, set()).add(r.n_timepoints)
        lines = [
            f"{self.root}: {self.layout} layout",
            f"  subjects ({len(self.subjects)}): {', '.join(self.subjects[:12])}{' ...' if len(self.subjects) > 12 else ''}",
            "  runs: " + ", ".join(f"{label} ({'/'.join(map(str, sorted(lengths[label])))} TRs)" for label in self.run_labels),
            f"  TR: {', '.join(sorted({f'{r.tr:g} s' for r in self.runs if r.tr})) or 'unknown (give --tr)'}",
            f"  grid: {', '.join(shapes)}   kind: {', '.join(sorted({r.kind for r in self.runs}))}",
        ]
        if spaces:
            lines.append(f"  space: {', '.join(spaces)}")
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  problems ({len(self.problems)}):" if self.problems else "  problems: none")
        lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)


def _run_key(run: str) -> tuple[int, str]:
    return (int(run), run) if run.isdigit() else (10**9, run)


def detect_layout(path: str | Path) -> str:
    """The layout of ``path`` (see the module docstring), from file names only."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"dataset path {str(path)!r} does not exist.")
    if path.is_file():
        if path.suffix == ".txt":
            return "nifti"
        if path.suffix in (".npy", ".h5", ".hdf5"):
            return "arrays"
        raise ConfigError(f"{str(path)!r} is a file: give a dataset folder, a .txt list of NIfTI files, or .npy/.h5 arrays.")
    description = path / "dataset_description.json"
    if description.is_file():
        try:
            generated = json.loads(description.read_text()).get("GeneratedBy") or []
        except json.JSONDecodeError as exc:
            raise CorruptFileError(f"{str(description)!r} is not valid JSON ({exc}).") from exc
        if any(str(g.get("Name", "")).lower() == "fmriprep" for g in generated if isinstance(g, dict)):
            return "fmriprep"
    if next(path.glob("sub-*/**/func/*_desc-preproc_bold.nii*"), None) is not None:
        return "fmriprep"
    if next(path.glob("*/MNINonLinear/Results"), None) is not None:
        return "hcp"
    if next(path.glob("sub-*/**/func/*_bold.nii*"), None) is not None:
        return "bids"
    if next(path.glob("*.npy"), None) is not None or next(path.glob("*.h5"), None) is not None:
        return "arrays"
    raise MissingFileError(
        f"no known layout under {str(path)!r}: looked for BIDS (sub-*/func/*_bold.nii.gz), fMRIPrep "
        "(*_desc-preproc_bold.nii.gz), HCP (<subject>/MNINonLinear/Results/) and arrays (*.npy, *.h5)."
    )


def scan_dataset(
    path: str | Path,
    *,
    layout: str = "auto",
    task: str | None = None,
    space: str | None = "MNI152NLin2009cAsym",
    hcp_data: str = "volume",
    tr: float | None = None,
    deep: bool = False,
) -> DatasetInfo:
    """Find every run of a dataset and check it from its header, collecting problems.

    Parameters
    ----------
    path : str or Path
        Dataset root, a ``.txt`` list of NIfTI files, or an array file/folder.
    layout : {"auto", "bids", "fmriprep", "hcp", "nifti", "arrays"}, default="auto"
    task : str, optional
        Keep only this task (BIDS and fMRIPrep).
    space : str or None, default="MNI152NLin2009cAsym"
        fMRIPrep output space to use; any ``MNI152*`` space is accepted when this one is absent and the
        choice reported; None takes the only space there is. A non-MNI space when MNI was asked is a problem.
    hcp_data : {"volume", "cifti"}, default="volume"
        Which HCP files to use.
    tr : float, optional
        Repetition time in seconds, required for arrays; elsewhere checked against the headers.
    deep : bool, default=False
        Also read every NIfTI/CIFTI file to its end (:func:`syncact.brain.io.unreadable_data`): finds
        damage inside a compressed stream that the O(1) size check cannot see, at the cost of a full read.

    Returns
    -------
    DatasetInfo
    """
    check_choice("layout", layout, LAYOUTS)
    check_choice("hcp_data", hcp_data, ("volume", "cifti"))
    path = Path(path)
    if layout == "auto":
        layout = detect_layout(path)
    scanners: dict[str, Callable[[], DatasetInfo]] = {
        "bids": lambda: _scan_bids(path, task),
        "fmriprep": lambda: _scan_fmriprep(path, task, space),
        "hcp": lambda: _scan_hcp(path, hcp_data),
        "nifti": lambda: _scan_nifti_list(path),
        "arrays": lambda: _scan_arrays(path, tr),
    }
    info = scanners[layout]()
    if tr is not None and layout != "arrays":
        for r in info.runs:
            if r.tr is not None:
                try:
                    check_tr_agree(str(r.path), r.tr, tr)
                except DataError as exc:
                    info.problems.append(str(exc))
    for r in info.runs:
        if r.kind in ("nifti", "cifti"):
            problem = incomplete_file(r.path) or (unreadable_data(r.path) if deep else None)
            if problem:
                info.problems.append(problem)
    _check_consistency(info)
    return info


# --------------------------------------------------------------------------------------------------
def _collect(info: DatasetInfo, make: Callable[[], RunSource]) -> None:
    """Append a run, or its problem when reading its header fails."""
    try:
        info.runs.append(make())
    except SyncactError as exc:
        info.problems.append(str(exc))


def _scan_bids(root: Path, task: str | None) -> DatasetInfo:
    info = DatasetInfo(root, "bids", [])
    files = sorted(p for p in root.glob("sub-*/**/func/*_bold.nii*") if p.name.endswith((".nii", ".nii.gz")))
    files = [p for p in files if task is None or f"task-{task}_" in p.name]
    if not files:
        raise MissingFileError(f"no BOLD runs{f' for task {task!r}' if task else ''} under {str(root)!r} "
                               "(looked for sub-*/func/*_bold.nii.gz).")
    for p in files:
        _collect(info, lambda p=p: inspect_run(p, root=root))
    return info


def _scan_fmriprep(root: Path, task: str | None, space: str | None) -> DatasetInfo:
    info = DatasetInfo(root, "fmriprep", [])
    files = sorted(p for p in root.glob("sub-*/**/func/*_desc-preproc_bold.nii*") if p.name.endswith((".nii", ".nii.gz")))
    files = [p for p in files if task is None or f"task-{task}_" in p.name]
    if not files:
        raise MissingFileError(f"no *_desc-preproc_bold.nii.gz{f' for task {task!r}' if task else ''} under {str(root)!r}.")
    spaces = sorted({dict(_ENTITY.findall(p.name)).get("space", "native") for p in files})
    chosen = _choose_space(spaces, space, root)
    if len(spaces) > 1:
        info.notes.append(f"spaces available: {', '.join(spaces)}; using {chosen}")
    else:
        info.notes.append(f"space: {chosen}")
    for p in files:
        ents = dict(_ENTITY.findall(p.name))
        if ents.get("space", "native") != chosen:
            continue
        prefix = p.name.split("_space-")[0]
        confounds = next((c for c in (p.with_name(f"{prefix}_desc-confounds_timeseries.tsv"),
                                      p.with_name(f"{prefix}_desc-confounds_regressors.tsv")) if c.is_file()), None)
        if confounds is None:
            info.problems.append(f"{p.name}: no confounds table ({prefix}_desc-confounds_timeseries.tsv); "
                                 "confound regression will not be possible for this run.")
        _collect(info, lambda p=p, c=confounds: replace(inspect_run(p, root=root), space=chosen, confounds=c))
    return info


def _choose_space(spaces: list[str], wanted: str | None, root: Path) -> str:
    if wanted is None:
        if len(spaces) > 1:
            raise ConfigError(f"fMRIPrep outputs under {str(root)!r} are in several spaces ({', '.join(spaces)}); pass space=.")
        return spaces[0]
    if wanted in spaces:
        return wanted
    if wanted.startswith("MNI"):
        mni = [s for s in spaces if s.startswith("MNI152")]
        if mni:
            logger.warning("fMRIPrep space %s not found under %s; using %s", wanted, root, mni[0])
            return mni[0]
        raise DataError(f"MNI space {wanted!r} was asked but the fMRIPrep outputs under {str(root)!r} are in "
                        f"{', '.join(spaces)}; rerun fMRIPrep with --output-spaces {wanted}:res-2 or pass space=None "
                        "(and target='native').")
    raise DataError(f"space {wanted!r} not found under {str(root)!r}; available: {', '.join(spaces)}.")


def _scan_hcp(root: Path, hcp_data: str) -> DatasetInfo:
    info = DatasetInfo(root, "hcp", [])
    run_dirs = sorted(root.glob("*/MNINonLinear/Results/tfMRI_MOVIE*_7T_*"))
    if not run_dirs:
        raise MissingFileError(f"no HCP movie runs under {str(root)!r} (looked for */MNINonLinear/Results/tfMRI_MOVIE*_7T_*).")
    info.notes.append(f"HCP {hcp_data} files" + (" (MNI152NLin6Asym)" if hcp_data == "volume" else " (grayordinates)"))
    for d in run_dirs:
        m = _HCP_RUN.match(d.name)
        if m is None:
            continue
        subject, label = d.parents[2].name, m.group(1)
        if hcp_data == "volume":
            f = d / f"{d.name}.nii.gz"
            if not f.is_file():
                cifti = next(d.glob(f"{d.name}_Atlas*.dtseries.nii"), None)
                info.problems.append(f"{d}: missing {f.name}" + (
                    f" (it has the CIFTI {cifti.name}: read grayordinates with hcp_data = \"cifti\", "
                    "--hcp-data cifti)." if cifti else "."))
                continue
            _collect(info, lambda f=f, s=subject, r=label: _hcp_volume(f, s, r))
        else:
            candidates = sorted(d.glob(f"{d.name}_Atlas*.dtseries.nii"))
            preferred = [c for c in candidates if "MSMAll_hp2000_clean" in c.name] or candidates
            if not preferred:
                info.problems.append(f"{d}: no {d.name}_Atlas*.dtseries.nii CIFTI file.")
                continue
            _collect(info, lambda f=preferred[0], s=subject, r=label: _cifti_source(f, s, r))
    return info


def _hcp_volume(f: Path, subject: str, run: str) -> RunSource:
    return replace(inspect_run(f), subject=subject, run=run, task="movie", space="MNI152NLin6Asym")


def read_cifti_header(path: Path) -> tuple[float, int, dict[str, slice]]:
    """TR, number of time points, and the column range of each brain structure of a dense time series.

    Raises
    ------
    CorruptFileError, ShapeError
        Not a CIFTI-2 dense time series, or a brain model without the two cortical surfaces.
    """
    try:
        img = nib.load(path)
        series, models = img.header.get_axis(0), img.header.get_axis(1)
    except Exception as exc:  # nibabel raises several types
        raise CorruptFileError(f"CIFTI file {str(path)!r} cannot be read by nibabel's CIFTI-2 reader ({exc}).") from exc
    if not isinstance(series, nib.cifti2.SeriesAxis) or not isinstance(models, nib.cifti2.BrainModelAxis):
        raise ShapeError(f"CIFTI file {str(path)!r} is not a dense time series (axes {type(series).__name__}, "
                         f"{type(models).__name__}); use the *_Atlas*.dtseries.nii file, not a dscalar/ptseries.")
    structures = {name: slice(*slc.indices(models.size)[:2]) for name, slc, _ in models.iter_structures()}
    missing = [s for s in CIFTI_CORTEX if s not in structures]
    if missing:
        raise ShapeError(f"CIFTI file {str(path)!r} lacks {', '.join(missing)} (it has {', '.join(structures)}); "
                         "syncact expects HCP grayordinates (both cortical surfaces plus subcortical volumes).")
    step = float(series.step) * (1e-3 if series.unit == "MSEC" else 1.0)
    return step, int(series.size), structures


def _cifti_source(f: Path, subject: str, run: str) -> RunSource:
    tr, n, structures = read_cifti_header(f)
    n_columns = max(s.stop for s in structures.values())
    return RunSource(path=f, subject=subject, run=run, kind="cifti", n_timepoints=n, tr=tr, shape=(n_columns,),
                     task="movie", space="grayordinates")


def _scan_nifti_list(listing: Path) -> DatasetInfo:
    info = DatasetInfo(listing, "nifti", [])
    lines = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        raise MissingFileError(f"{str(listing)!r} lists no NIfTI file (one path per line).")
    for i, line in enumerate(lines, 1):
        f = (listing.parent / line).resolve()
        ents = dict(_ENTITY.findall(f.name))

        def make(f: Path = f, ents: dict = ents, i: int = i) -> RunSource:
            return replace(inspect_run(f), subject=ents.get("sub", f"{i:02d}"),
                           run=ents.get("run", "1").lstrip("0") or "0", task=ents.get("task", ""))

        _collect(info, make)
    return info


def _scan_arrays(path: Path, tr: float | None) -> DatasetInfo:
    files = [path] if path.is_file() else sorted([*path.glob("*.npy"), *path.glob("*.h5"), *path.glob("*.hdf5")])
    info = DatasetInfo(path, "arrays", [])
    if tr is None:
        raise ConfigError(f"arrays under {str(path)!r} carry no repetition time: pass tr= (--tr).")
    for i, f in enumerate(files, 1):
        ents = dict(_ENTITY.findall(f.name))

        def make(f: Path = f, ents: dict = ents, i: int = i) -> RunSource:
            shape = array_shape(f)
            if len(shape) != 2:
                raise ShapeError(f"array file {str(f)!r} has shape {shape}; expected (time, features).")
            return RunSource(path=f, subject=ents.get("sub", f"{i:02d}"), run=ents.get("run", "1").lstrip("0") or "0",
                             kind="array", n_timepoints=int(shape[0]), tr=float(tr), shape=(int(shape[1]),))

        _collect(info, make)
    return info


def array_shape(f: Path) -> tuple[int, ...]:
    """Shape of a .npy (memory-mapped header) or .h5 (dataset ``data``) array without reading it."""
    try:
        if f.suffix == ".npy":
            return tuple(np.load(f, mmap_mode="r").shape)
        import h5py

        with h5py.File(f, "r") as h5:
            if "data" not in h5:
                raise ShapeError(f"HDF5 file {str(f)!r} has no dataset 'data' (found {', '.join(h5)}).")
            return tuple(h5["data"].shape)
    except ImportError as exc:
        raise ConfigError("reading .h5 arrays needs h5py: pip install 'syncact[hdf5]'") from exc
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"array file {str(f)!r} cannot be read ({exc}).") from exc


def _check_consistency(info: DatasetInfo) -> None:
    """Problems across runs: grids, TRs, lengths per run label, missing runs."""
    runs = info.runs
    if not runs:
        if not info.problems:
            info.problems.append("no readable run.")
        return
    ref = runs[0]
    for r in runs[1:]:
        if r.kind != ref.kind or r.shape != ref.shape:
            info.problems.append(f"{r.path.name} has grid {r.shape} ({r.kind}) but {ref.path.name} has {ref.shape}; "
                                 "prepare with target='mni152' to resample every run to one grid.")
        elif r.affine is not None and ref.affine is not None and not np.allclose(r.affine, ref.affine, atol=1e-3):
            info.problems.append(f"{r.path.name} has another affine than {ref.path.name} (same shape); "
                                 "prepare with target='mni152' to resample every run to one grid.")
    trs = sorted({r.tr for r in runs if r.tr is not None})
    if len(trs) > 1:
        info.problems.append(f"runs have different repetition times ({', '.join(f'{t:g}' for t in trs)} s); analyse them apart.")
    subjects = sorted({r.subject for r in runs})
    for label in sorted({r.run for r in runs}, key=_run_key):
        group = [r for r in runs if r.run == label]
        lengths = sorted({r.n_timepoints for r in group})
        if len(lengths) > 1:
            detail = ", ".join(f"sub-{r.subject}: {r.n_timepoints}" for r in group[:8])
            info.problems.append(f"run {label} has different lengths across subjects ({detail}); the same movie needs the "
                                 "same number of volumes: trim with drop_start/drop_end or fix the data.")
        missing = sorted(set(subjects) - {r.subject for r in group})
        if missing:
            info.problems.append(f"run {label} is missing for subject(s) {', '.join(missing)}; provide it or exclude them.")
    seen: dict[str, Path] = {}
    for r in runs:
        if r.key in seen:
            info.problems.append(f"{r.key} appears twice ({seen[r.key].name}, {r.path.name}); keep one (task=?).")
        seen[r.key] = r.path
    info.runs.sort(key=lambda r: (r.subject, _run_key(r.run)))

