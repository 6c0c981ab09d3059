"""What every method that finds brain networks shares, so the pairing stage accepts any of them.

A fitted model has ``maps_`` (K x voxel, each map signed so its peak is positive) and a
``transform(run)`` that gives the run's K temporal activations. The Sync-ACT embedding
(:class:`syncact.networks.FBNEmbedding`) and the baselines of :mod:`syncact.networks.decomposition`
(group ICA, dictionary learning, PCA, the shared response model) all derive from :class:`BrainNetworks`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from syncact.exceptions import ConfigError, ShapeError


def positive_peaks(maps: np.ndarray) -> np.ndarray:
    """Sign per map (+1 / -1) that makes the voxel of largest magnitude positive: shape (K,)."""
    peak = maps[np.arange(maps.shape[0]), np.abs(maps).argmax(axis=1)]
    return np.where(peak < 0, -1.0, 1.0)


class BrainNetworks(BaseEstimator):
    """Base class: K spatial maps and, per run, K temporal activations.

    An estimator in scikit-learn's sense: its constructor's arguments are its parameters, kept as given,
    so ``get_params``, ``set_params`` and ``sklearn.base.clone`` work and the parameters are written once.

    Attributes
    ----------
    method : str
        Name under which :func:`syncact.networks.make_networks` builds it.
    maps_ : ndarray of shape (n_networks, n_voxels)
    history_ : TrainingHistory or None
        Loss per epoch for trained models, None for decompositions.
    """

    method: str = ""
    n_networks: int
    history_ = None

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None, *,
            groups: Sequence[str] | None = None) -> BrainNetworks:
        """Learn the networks from the training runs (``groups``: subject of each run, for methods that need it)."""
        raise NotImplementedError

    def transform(self, run: np.ndarray) -> np.ndarray:
        """Temporal activations (n_timepoints, n_networks) of one run (n_timepoints, n_voxels)."""
        raise NotImplementedError

    def _check_run(self, run: np.ndarray) -> np.ndarray:
        if not hasattr(self, "maps_"):
            raise ConfigError(f"this {type(self).__name__} is not fitted yet; call fit() first.")
        x = np.asarray(run, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.maps_.shape[1]:
            raise ShapeError(f"run must have shape (n_timepoints, {self.maps_.shape[1]}), got {x.shape}.")
        return x


class LinearNetworks(BrainNetworks):
    """Networks whose activations are the least-squares fit of a run by the maps, ``A = X M^T (M M^T)^-1``.

    This is how nilearn's decompositions (CanICA, DictLearning) compute time series for new data; for
    orthonormal maps (PCA) it is the projection ``X M^T``.
    """

    def _set_maps(self, maps: np.ndarray) -> None:
        maps = np.asarray(maps, dtype=np.float64)
        empty = np.flatnonzero(~np.any(maps, axis=1))
        if empty.size:
            warnings.warn(f"{self.method}: {empty.size} of {maps.shape[0]} maps are all zero (networks {empty[:8].tolist()}); "
                          "for dictionary learning lower alpha (options={'alpha': ...}) or ask for fewer networks.",
                          RuntimeWarning, stacklevel=3)
        self.maps_ = maps * positive_peaks(maps)[:, None]
        self._pinv = np.linalg.pinv(self.maps_)  # (V, K)

    def transform(self, run: np.ndarray) -> np.ndarray:
        x = self._check_run(run)
        return x.astype(np.float64) @ self._pinv
