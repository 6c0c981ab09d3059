"""Grayordinates: a CIFTI-2 file's brain models kept beside its prepared data, and maps written back as dscalar.

A dense time series (``*.dtseries.nii``) describes its columns by a brain-model axis: per column, the structure
(``CIFTI_STRUCTURE_CORTEX_LEFT``, ``..._THALAMUS_LEFT``, ...) and either a surface vertex or a voxel (i, j, k) of a
volume with its affine. A prepared store keeps that axis as plain arrays (:func:`models_to_arrays`), so a map
over the store's grayordinates becomes a dense scalar file (``*.dscalar.nii``, :func:`dscalar`) with the input's
brain models, readable by Connectome Workbench and nibabel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.cifti2 import cifti2_axes

from syncact.exceptions import CorruptFileError, ShapeError

SUFFIX = ".dscalar.nii"


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
