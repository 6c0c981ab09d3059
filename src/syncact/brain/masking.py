"""Drift removal and per-voxel standardisation of (time, voxel) matrices."""

from __future__ import annotations

import logging

import numpy as np

from syncact.exceptions import DataError, ShapeError

logger = logging.getLogger(__name__)


def drift_basis(n_timepoints: int, tr: float, high_pass: float | None, *, linear: bool = True) -> np.ndarray:
    """Regressors of slow drift: a constant, a linear trend, and the DCT-II cosines below ``high_pass``.

    The cosines are those of ``nilearn.signal.create_cosine_drift`` (SPM's high-pass filter): order
    ``floor(2 * T * TR * high_pass)``.

    Returns
    -------
    ndarray of shape (n_timepoints, n_regressors)
    """
    t = np.arange(n_timepoints, dtype=np.float64)
    columns = [np.ones(n_timepoints)]
    if linear:
        columns.append((t - t.mean()) / n_timepoints)
    if high_pass:
        order = min(n_timepoints - 1, int(np.floor(2 * n_timepoints * tr * high_pass)))
        columns += [np.sqrt(2.0 / n_timepoints) * np.cos(np.pi / n_timepoints * (t + 0.5) * k) for k in range(1, order + 1)]
    return np.column_stack(columns)


def remove_drift(matrix: np.ndarray, tr: float, high_pass: float | None = 0.01, *, detrend: bool = True,
                 confounds: np.ndarray | None = None) -> np.ndarray:
    """Regress slow drifts (and confounds) out of every voxel, in place.

    Parameters
    ----------
    matrix : ndarray of shape (n_timepoints, n_voxels)
    tr : float
        Repetition time in seconds.
    high_pass : float or None, default=0.01
        Cut-off in Hz of the cosine high-pass filter (None: no cosines).
    detrend : bool, default=True
        Also remove a linear trend.
    confounds : ndarray of shape (n_timepoints, n_confounds), optional
        Nuisance regressors (e.g. fMRIPrep motion parameters), removed jointly with the drift, as
        ``nilearn.signal.clean`` does (tests check the two agree).

    Returns
    -------
    ndarray of shape (n_timepoints, n_voxels)
        The same array with the drift regressors projected out (its mean is removed too).
    """
    basis = drift_basis(matrix.shape[0], tr, high_pass, linear=detrend)
    if confounds is not None:
        conf = np.asarray(confounds, dtype=np.float64).reshape(matrix.shape[0], -1)
        sd = conf.std(axis=0)
        basis = np.column_stack([basis, (conf - conf.mean(axis=0)) / np.where(sd > 0, sd, 1.0)])
    q, _ = np.linalg.qr(basis)
    matrix -= (q @ (q.T @ matrix)).astype(matrix.dtype)
    return matrix


def zscore_voxels(matrix: np.ndarray, *, source: str = "data") -> np.ndarray:
    """Standardise each voxel (column) to zero mean and unit variance over time, in place.

    Parameters
    ----------
    matrix : ndarray of shape (n_timepoints, n_voxels), float32
    source : str
        Name used in the error message (a file name).

    Returns
    -------
    ndarray of shape (n_timepoints, n_voxels)
        The same array, standardised.

    Raises
    ------
    DataError
        If a voxel is constant over time (its z-score is undefined).
    """
    if matrix.ndim != 2:
        raise ShapeError(f"{source}: expected a (time, voxel) matrix, got shape {matrix.shape}.")
    mean = matrix.mean(axis=0, dtype=np.float64)
    std = matrix.std(axis=0, dtype=np.float64)
    constant = std <= 1e-8 * np.maximum(np.abs(mean), 1.0)
    if constant.any():
        raise DataError(
            f"{source} has {int(constant.sum())} voxels inside the mask that are constant over time; "
            "give a tighter mask (mask = 'path/to/mask.nii.gz' in the config) that excludes them."
        )
    matrix -= mean.astype(matrix.dtype)
    matrix /= std.astype(matrix.dtype)
    return matrix


def voxel_coordinates(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of the voxels inside ``mask`` in C order (the order of masked matrices): (n_voxels, 3)."""
    ijk = np.argwhere(np.asarray(mask, dtype=bool))
    return ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
