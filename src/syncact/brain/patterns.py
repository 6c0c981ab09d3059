"""Image-specific fMRI patterns from event-related runs (for RSA), or from beta maps the user has.

Two standard single-image estimates with nilearn's ``FirstLevelModel`` (Mumford et al. 2012):

``"lsa"`` (least squares, all)
    One GLM with one regressor per image (all its presentations in the runs); each image's pattern
    is its contrast. Best when presentations are well spaced.
``"lss"`` (least squares, separate)
    One GLM per image, with a regressor for that image and one for all others; less collinear for
    fast designs, N times the cost.

Runs are combined by nilearn's fixed effects over runs. ``output="t"`` gives t maps (the usual choice
for RSA, noise-normalised per voxel), ``"beta"`` effect sizes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact._validation import check_choice, check_file
from syncact.exceptions import CorruptFileError, DataError, ShapeError

logger = logging.getLogger(__name__)

METHODS = ("lsa", "lss")
OUTPUTS = {"t": "stat", "beta": "effect_size"}


@dataclass
class ImagePatterns:
    """One pattern per image over the voxels of a mask.

    Attributes
    ----------
    patterns : ndarray of shape (n_images, n_voxels)
        Columns: the mask's voxels in C order, or the grayordinates of ``brain_models``.
    names : list of str
        Image (condition) names, in the order of the rows.
    mask_img : nibabel.Nifti1Image or None
        None for grayordinates.
    method : str
        ``"lsa"``, ``"lss"`` or ``"maps"`` (read from files).
    output : str
        ``"t"`` or ``"beta"`` (or ``"maps"``).
    brain_models : nibabel.cifti2.cifti2_axes.BrainModelAxis or None
        The columns' grayordinates, for patterns read from CIFTI (:func:`patterns_from_dscalar`).
    """

    patterns: np.ndarray
    names: list[str]
    mask_img: object
    method: str
    output: str
    brain_models: object | None = None

    def reorder(self, names: Sequence[str]) -> ImagePatterns:
        """The patterns in the order of ``names`` (e.g. the order of the model RDMs' images)."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise DataError(f"no pattern for images {missing[:5]}; patterns exist for {self.names[:5]}...")
        index = [self.names.index(n) for n in names]
        return ImagePatterns(self.patterns[index], list(names), self.mask_img, self.method, self.output,
                             self.brain_models)


def _events_table(events: pd.DataFrame | str | Path, column: str, run: int) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        path = check_file(events, f"events file of run {run}", hint="Give a BIDS events.tsv with onset, duration and the image column.")
        try:
            events = pd.read_csv(path, sep="\t" if str(path).endswith((".tsv", ".tsv.gz")) else ",")
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise CorruptFileError(f"events file {str(path)!r} cannot be parsed ({exc}).") from None
        source = str(path)
    else:
        source = f"events of run {run}"
    missing = [c for c in ("onset", "duration", column) if c not in events.columns]
    if missing:
        raise DataError(f"{source} lacks the columns {missing} (has {list(events.columns)}); pass image_column= if the "
                        "images are named in another column.")
    table = events[["onset", "duration", column]].rename(columns={column: "image"})
    if table[["onset", "duration"]].isna().any().any():
        raise DataError(f"{source} has empty onsets or durations.")
    table = table.dropna(subset=["image"])
    table["image"] = table["image"].astype(str)
    return table


def image_patterns(run_imgs: Sequence[object], events: Sequence[pd.DataFrame | str | Path], t_r: float, *,
                   mask_img: object, method: str = "lsa", output: str = "t", image_column: str = "trial_type",
                   images: Sequence[str] | None = None, confounds: Sequence[pd.DataFrame] | None = None,
                   hrf_model: str = "glover", noise_model: str = "ar1", high_pass: float = 0.01,
                   smoothing_fwhm: float | None = None, progress: bool = False) -> ImagePatterns:
    """Estimate one pattern per image from event-related runs.

    Parameters
    ----------
    run_imgs : sequence of NIfTI images or paths
        4-D BOLD runs.
    events : sequence of DataFrame or path, one per run
        ``onset``, ``duration`` (s) and the image name per presentation (column ``image_column``).
    t_r : float
        Repetition time in seconds.
    mask_img : NIfTI image or path
        Voxels to estimate (the searchlight's mask).
    method : {"lsa", "lss"}, default="lsa"
    output : {"t", "beta"}, default="t"
    image_column : str, default="trial_type"
    images : sequence of str, optional
        Images to estimate, in the order wanted (default: every image in the events, sorted).
        Events of other conditions stay in the model as nuisance regressors.
    confounds : sequence of DataFrame, optional
        One per run.
    hrf_model, noise_model, high_pass, smoothing_fwhm
        Passed to ``nilearn.glm.first_level.FirstLevelModel``.
    progress : bool, default=False

    Returns
    -------
    ImagePatterns
    """
    from nilearn.glm.first_level import FirstLevelModel
    from nilearn.maskers import NiftiMasker

    check_choice("method", method, METHODS)
    check_choice("output", output, OUTPUTS)
    if len(run_imgs) != len(events):
        raise ShapeError(f"{len(run_imgs)} runs but {len(events)} events tables: give one events table per run.")
    if confounds is not None and len(confounds) != len(run_imgs):
        raise ShapeError(f"{len(run_imgs)} runs but {len(confounds)} confounds tables.")
    tables = [_events_table(e, image_column, i) for i, e in enumerate(events)]
    present = sorted(set().union(*[set(t["image"]) for t in tables]))
    wanted = list(images) if images is not None else present
    absent = [name for name in wanted if name not in present]
    if absent:
        raise DataError(f"images {absent[:5]} are never shown in the events; they cannot be estimated.")
    if len(wanted) < 3:
        raise DataError(f"{len(wanted)} images: RSA needs at least 3.")
    # design-matrix column names must be identifiers (contrast strings): images become img0000, img0001, ...
    codes = {name: f"img{i:04d}" for i, name in enumerate(present)}

    def glm() -> FirstLevelModel:
        return FirstLevelModel(t_r=t_r, hrf_model=hrf_model, noise_model=noise_model, high_pass=high_pass,
                               mask_img=mask_img, smoothing_fwhm=smoothing_fwhm, minimize_memory=True)

    masker = NiftiMasker(mask_img=mask_img, standardize=None).fit()
    out_type = OUTPUTS[output]
    rows = []
    with warnings.catch_warnings():
        # nilearn notes that it uses the given mask, and that one contrast serves every run (our image columns
        # have the same names in every run's design)
        warnings.filterwarnings("ignore", message=r".*(Generation of a mask has been requested|same contrast will be used).*")
        if method == "lsa":
            design = [t.assign(trial_type=t["image"].map(codes)).drop(columns="image") for t in tables]
            model = glm().fit(list(run_imgs), events=design, confounds=confounds)
            for name in tqdm(wanted, desc="LSA contrasts", unit="image", disable=bar_disabled(progress), leave=False):
                rows.append(masker.transform(model.compute_contrast(codes[name], output_type=out_type)).ravel())
        else:
            for name in tqdm(wanted, desc="LSS models", unit="image", disable=bar_disabled(progress), leave=False):
                design = [t.assign(trial_type=np.where(t["image"] == name, "target", "other")).drop(columns="image")
                          for t in tables]
                model = glm().fit(list(run_imgs), events=design, confounds=confounds)
                rows.append(masker.transform(model.compute_contrast("target", output_type=out_type)).ravel())
    patterns = np.stack(rows)
    if not np.isfinite(patterns).all():
        raise DataError("the GLM gave NaN patterns: check the mask against the runs' field of view.")
    return ImagePatterns(patterns, wanted, masker.mask_img_, method, output)


def patterns_from_maps(maps: Sequence[str | Path] | dict[str, str | Path], mask_img: object) -> ImagePatterns:
    """Image patterns from beta (or t) maps the user estimated: one 3-D NIfTI per image.

    Parameters
    ----------
    maps : sequence of paths, or mapping of image name to path
        Names default to the file names without ``.nii``/``.nii.gz``.
    mask_img : NIfTI image or path
        Maps are resampled to the mask's grid when they are on another.

    Returns
    -------
    ImagePatterns
    """
    import nibabel as nib
    from nilearn.image import resample_to_img
    from nilearn.maskers import NiftiMasker

    items = list(maps.items()) if isinstance(maps, dict) else [(Path(p).name.split(".nii")[0], p) for p in maps]
    if len(items) < 3:
        raise DataError(f"{len(items)} maps: RSA needs at least 3.")
    masker = NiftiMasker(mask_img=mask_img, standardize=None).fit()
    target = masker.mask_img_
    rows = []
    for name, path in items:
        check_file(path, f"pattern map of image {name!r}")
        try:
            img = nib.load(str(path))
            data_shape = img.shape
        except Exception as exc:  # nibabel raises several types for broken files
            raise CorruptFileError(f"pattern map {str(path)!r} cannot be read ({exc}).") from None
        if len(data_shape) == 4 and data_shape[3] == 1:
            img = nib.Nifti1Image(np.asarray(img.dataobj)[..., 0], img.affine)
        elif len(data_shape) != 3:
            raise ShapeError(f"pattern map {str(path)!r} has shape {data_shape}: give one 3-D map per image.")
        if img.shape != target.shape or not np.allclose(img.affine, target.affine):
            img = resample_to_img(img, target, interpolation="continuous", force_resample=True, copy_header=True)
        row = masker.transform(img).ravel()
        if not np.isfinite(row).all():
            raise DataError(f"pattern map {str(path)!r} has NaN inside the mask; use a mask that excludes them.")
        rows.append(row)
    return ImagePatterns(np.stack(rows), [n for n, _ in items], target, "maps", "maps")


def patterns_from_dscalar(path: str | Path) -> ImagePatterns:
    """Image patterns over grayordinates from one CIFTI-2 dense scalar file, one map per image, named by its image
    (e.g. HCP task betas written by Workbench's ``-cifti-merge``).

    Parameters
    ----------
    path : str or Path
        A ``*.dscalar.nii`` file: maps x grayordinates.

    Returns
    -------
    ImagePatterns
        ``mask_img`` is None, ``brain_models`` the file's columns.
    """
    import nibabel as nib
    from nibabel.cifti2 import cifti2_axes

    path = check_file(path, "pattern maps (CIFTI dense scalars)", hint="Give a .dscalar.nii with one map per image.")
    try:
        img = nib.load(str(path))
        rows, columns = img.header.get_axis(0), img.header.get_axis(1)
        data = np.asarray(img.get_fdata(dtype=np.float64))
    except Exception as exc:  # nibabel raises several types for broken or non-CIFTI files
        raise CorruptFileError(f"pattern maps {str(path)!r} cannot be read as CIFTI-2 ({exc}).") from None
    if not isinstance(rows, cifti2_axes.ScalarAxis) or not isinstance(columns, cifti2_axes.BrainModelAxis):
        raise ShapeError(f"{str(path)!r} is not a dense scalar file (maps x grayordinates): its axes are "
                         f"{type(rows).__name__} x {type(columns).__name__}.")
    names = [str(n) for n in rows.name]
    if len(names) < 3:
        raise DataError(f"{str(path)!r} holds {len(names)} maps: RSA needs at least 3.")
    if len(set(names)) != len(names):
        raise DataError(f"{str(path)!r} names maps more than once: name each map by its image.")
    if not np.isfinite(data).all():
        bad = np.flatnonzero(~np.isfinite(data).all(axis=0))[:5].tolist()
        raise DataError(f"{str(path)!r} has NaN or infinite values (grayordinates {bad}...).")
    return ImagePatterns(data, names, None, "maps", "maps", columns)
