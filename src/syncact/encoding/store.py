"""Whole-brain encoding straight from a prepared store: the subjects' mean per run, its ceiling, the fits.

One pass over each run reads every subject's rows in blocks, writes their mean to a memory-mapped file (voxels
x time, so that a chunk of voxels is one contiguous read) and accumulates the sums the leave-one-out ISC needs
(:func:`streamed_isc`); memory then grows with a block of rows and a chunk of voxels, not with the run or the
number of voxels. :func:`encode_store` fits :func:`~syncact.encoding.fit_encoding` to those means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from syncact.annotate import CoordinateAtlas
from syncact.annotate.parcellations import Parcellation
from syncact.brain import PreparedStore
from syncact.encoding.ceiling import CeiledScores, RunSums, ceiled, jackknife_from_sums, mean_ceiling
from syncact.encoding.features import band_features, default_delays
from syncact.encoding.model import EncodingScores, fit_encoding
from syncact.encoding.summary import ALPHA, band_table, network_table, score_maps
from syncact.exceptions import ConfigError, DataError, ShapeError


@dataclass
class StoreEncoding:
    """Encoding of every voxel of a prepared store (:func:`encode_store`).

    Attributes
    ----------
    scores : EncodingScores
        Held-out scores of each voxel of the subjects' mean.
    null : EncodingScores or None
        The same fit with each run's features paired with another run's BOLD (runs of equal length only).
    isc : ndarray of shape (n_voxels,)
        Leave-one-out ISC, mean over subjects and runs.
    ceiling : ndarray of shape (n_voxels,)
        Noise ceiling of the subjects' mean (mean over runs).
    subjects, runs : list of str
    delays : list of int
    interval : CeiledScores or None
        The ceiled r of each voxel with its leave-one-subject-out jackknife interval (None when not computed:
        ``interval=False``, or more subjects than :data:`JACKKNIFE_MAX_SUBJECTS`); NaN bounds with fewer than 3.
    """

    scores: EncodingScores
    null: EncodingScores | None
    isc: np.ndarray
    ceiling: np.ndarray
    subjects: list[str]
    runs: list[str]
    delays: list[int]
    interval: CeiledScores | None = None

    def tables(self, networks: np.ndarray | None = None, alpha: float = ALPHA) -> dict[str, pd.DataFrame]:
        """``encoding`` (per band) and, given each voxel's atlas network, ``encoding_networks``."""
        out = {"encoding": band_table(self.scores, self.ceiling, self.null, alpha=alpha)}
        if networks is not None:
            out["encoding_networks"] = network_table(self.scores, self.ceiling, networks, alpha=alpha)
        return out

    def save(self, out_dir: str | Path, store: PreparedStore, *, networks: np.ndarray | None = None,
             alpha: float = ALPHA) -> list[Path]:
        """Write maps (NIfTI on the store's grid, CIFTI dscalar for grayordinates) and tables to ``out_dir``; return
        the paths written.

        ``maps/``: ``r`` (mean held-out r), ``r2``, ``ceiling``, ``ceiled_r``, ``ceiled_r_low`` / ``ceiled_r_high``
        (its jackknife interval, when computed; 0 where undefined: a voxel without ISC once a subject is left out),
        ``winner`` (1 + the band that wins each predicted voxel, 0
        elsewhere), ``r2_<band>`` (split R²); ``tables/``: :meth:`tables`;
        ``encoding.json``: bands, subjects, runs, delays, solver, backend.
        """
        from syncact import _io

        out = Path(out_dir)
        scores = self.scores
        maps = {**score_maps(scores, alpha), "ceiling": self.ceiling,
                "ceiled_r": np.nan_to_num(ceiled(scores.mean_r, self.ceiling))}
        if self.interval is not None and np.isfinite(self.interval.low).any():
            maps.update(ceiled_r_low=np.nan_to_num(self.interval.low), ceiled_r_high=np.nan_to_num(self.interval.high))
        written = []
        for name, values in maps.items():
            path = out / "maps" / f"{name}{store.map_suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            with _io.atomic_path(path) as tmp:
                nib.save(store.map_image(np.asarray(values, dtype=np.float32)[None], [name]), tmp)
            written.append(path)
        for name, table in self.tables(networks, alpha).items():
            written.append(_io.write_csv(out / "tables" / f"{name}.csv", table))
        written.append(_io.write_json(out / "encoding.json", {
            "bands": scores.bands, "subjects": self.subjects, "runs": self.runs, "delays": self.delays,
            "solver": scores.solver, "alpha": alpha, **scores.meta}))
        return written


def atlas_networks(store: PreparedStore, atlas: CoordinateAtlas | None = None) -> np.ndarray | None:
    """Each store feature's network, ``""`` for none: on a volume grid, a coordinate atlas (spheres around its ROI
    centres; default Dosenbach 2010); on the HCP standard grayordinates, Yeo et al. 2011's 7 networks; None
    otherwise (other grayordinates, arrays)."""
    if store.kind == "cifti":
        try:
            yeo = Parcellation.load("yeo7").for_store(store)
        except DataError:  # not the HCP standard grayordinates
            return None
        return np.asarray(yeo.parcels, dtype=object)[yeo.labels].astype(str)
    try:
        img = store.mask_img()  # the group voxel set: its voxels in C order are the store's features
    except ConfigError:  # arrays
        return None
    return (atlas or CoordinateAtlas.dosenbach_2010()).voxel_networks(np.asarray(img.dataobj, dtype=bool), img.affine)


def streamed_isc(store: PreparedStore, run: str, subjects: Sequence[str], mean_path: str | Path, *,
                 block: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The subjects' mean of one run, written to ``mean_path``, and each subject's leave-one-out ISC.

    Parameters
    ----------
    store : PreparedStore
    run : str
    subjects : sequence of str
        At least 2, each with this run.
    mean_path : str or Path
        ``.npy`` file written with the mean, (n_voxels, n_timepoints) float32.
    block : int, default=128
        Rows read at a time.

    Returns
    -------
    mean : ndarray of shape (n_timepoints, n_voxels)
        A read-only memory-mapped view of ``mean_path``.
    isc : ndarray of shape (n_subjects, n_voxels)
        Equal to :func:`~syncact.encoding.isc` on the stacked runs (from sums of products, in float64).
    """
    n = len(subjects)
    if n < 2:
        raise DataError(f"inter-subject correlation needs at least 2 subjects, got {n}.")
    lengths = {r["n_timepoints"] for r in store.runs if r["run"] == run and r["subject"] in subjects}
    if len(lengths) != 1:
        raise ShapeError(f"run {run!r} has {sorted(lengths)} time points across subjects; encoding needs one length.")
    t, v = lengths.pop(), store.n_features
    mean = np.lib.format.open_memmap(mean_path, mode="w+", dtype=np.float32, shape=(v, t))
    s_x, s_xx, s_tx = np.zeros((n, v)), np.zeros((n, v)), np.zeros((n, v))
    s_t, s_tt = np.zeros(v), np.zeros(v)
    for start in range(0, t, block):
        rows = np.stack([store.read(s, run, start=start, stop=min(start + block, t)) for s in subjects]).astype(np.float64)
        total = rows.sum(axis=0)  # (b, v)
        mean[:, start:start + rows.shape[1]] = (total / n).T
        s_x += rows.sum(axis=1)
        s_xx += (rows**2).sum(axis=1)
        s_tx += (rows * total).sum(axis=1)
        s_t += total.sum(axis=0)
        s_tt += (total**2).sum(axis=0)
    mean.flush()
    del mean
    # others_s = (total - x_s) / (n - 1): their sums follow from those of total and x_s
    s_o = (s_t - s_x) / (n - 1)
    s_oo = (s_tt - 2 * s_tx + s_xx) / (n - 1) ** 2
    s_xo = (s_tx - s_xx) / (n - 1)
    cov = s_xo - s_x * s_o / t
    var_x, var_o = s_xx - s_x**2 / t, s_oo - s_o**2 / t
    denominator = np.sqrt(np.clip(var_x * var_o, 0, None))
    isc = np.divide(cov, denominator, out=np.zeros_like(cov), where=denominator > 1e-12 * t)
    return np.load(mean_path, mmap_mode="r").T, isc


JACKKNIFE_MAX_SUBJECTS = 32
"""The voxels' jackknife keeps every two subjects' cross-products per voxel (n^2 x voxels floats: 0.24 GB for 32
subjects on the 4 mm grid); with more subjects the interval is not computed (it is then narrow anyway)."""


def streamed_interval(store: PreparedStore, runs: Sequence[str], subjects: Sequence[str],
                      predictions: Sequence[np.ndarray], *, block: int = 64) -> CeiledScores:
    """Each voxel's ceiled held-out r and its leave-one-subject-out jackknife interval, streamed from the store.

    One more pass per run reads every subject's rows in blocks beside the held-out prediction's rows and keeps
    :class:`~syncact.encoding.ceiling.RunSums` (equal to :func:`~syncact.encoding.ceiling.jackknife_ceiled` on the
    stacked data, tested).

    Parameters
    ----------
    store : PreparedStore
    runs, subjects : sequence of str
    predictions : sequence of ndarray
        Per run, the held-out prediction of the subjects' mean, (n_timepoints, n_voxels) (memory-mapped is fine).
    block : int, default=64
        Time points read at a time.

    Returns
    -------
    CeiledScores
    """
    sums = []
    for run, prediction in zip(runs, predictions, strict=True):
        t = int(np.shape(prediction)[0])
        blocks = ((np.stack([store.read(s, run, start=i, stop=min(i + block, t)) for s in subjects]),
                   np.asarray(prediction[i:min(i + block, t)])) for i in range(0, t, block))
        sums.append(RunSums.accumulate(blocks))
    return jackknife_from_sums(sums)


def encode_store(store: PreparedStore, features: Mapping[str, Mapping[str, np.ndarray]], scratch: str | Path, *,
                 subjects: Sequence[str] | None = None, delays: Sequence[int] | None = None,
                 n_components: int | None = None, n_iter: int = 10, chunk_size: int = 4096, solver: str = "auto",
                 backend: str = "auto", null: bool = True, interval: bool = True, seed: int = 0,
                 progress: bool = False) -> StoreEncoding:
    """Encoding models of every voxel of a prepared store: banded ridge over layer features, leave one run out.

    Parameters
    ----------
    store : PreparedStore
    features : mapping of str to mapping of str to ndarray
        Per run label, per layer, the filter activations synchronised to the run's volumes, (n_timepoints, n_filters)
        (e.g. :class:`~syncact.ann.Activations` ``.layers``); the same layers and filters in every run.
    scratch : str or Path
        Folder for the subjects' mean of each run (memory-mapped; the caller removes it).
    subjects : sequence of str or None
        Subjects averaged (default: those with every run).
    delays : sequence of int or None
        In TRs (default: :func:`~syncact.encoding.default_delays` for the store's TR).
    n_components, n_iter, chunk_size, solver, backend, seed, progress
        As :func:`~syncact.encoding.band_features` and :func:`~syncact.encoding.fit_encoding`.
    null : bool, default=True
        Also fit mismatched movies (each run's features against the next run's BOLD; runs of equal length).
    interval : bool, default=True
        Each voxel's ceiled r with a jackknife interval over subjects (:func:`streamed_interval`; one more pass over
        the store, the held-out predictions kept in ``scratch``); skipped above :data:`JACKKNIFE_MAX_SUBJECTS`.

    Returns
    -------
    StoreEncoding
    """
    runs = [str(r) for r in features]
    if len(runs) < 2:
        raise ConfigError(f"leave-one-run-out encoding needs at least 2 runs with features, got {runs}.")
    by_subject: dict[str, set[str]] = {}
    for r in store.runs:
        by_subject.setdefault(r["subject"], set()).add(r["run"])
    missing = [r for r in runs if not any(r in have for have in by_subject.values())]
    if missing:
        raise DataError(f"runs {missing} have features but are not in store {str(store.path)!r} (it has runs "
                        f"{sorted(set().union(*by_subject.values()))}).")
    if subjects is None:
        subjects = sorted(s for s, have in by_subject.items() if set(runs) <= have)
    else:
        lacking = {s: sorted(set(runs) - by_subject.get(s, set())) for s in subjects}
        lacking = {s: r for s, r in lacking.items() if r}
        if lacking:
            raise DataError(f"subjects lack runs in store {str(store.path)!r}: {lacking}.")
    subjects = list(subjects)
    if len(subjects) < 2:
        raise DataError(f"the ceiling needs at least 2 subjects with every run {runs}; the store has {subjects}.")
    layers = list(next(iter(features.values())))
    for r in runs:
        if list(features[r]) != layers:
            raise ShapeError(f"run {r!r} has layers {list(features[r])}, run {runs[0]!r} has {layers}.")
        length = next(x["n_timepoints"] for x in store.runs if x["run"] == r and x["subject"] == subjects[0])
        for layer, values in features[r].items():
            if np.shape(values)[0] != length:
                raise ShapeError(f"run {r!r}, layer {layer!r}: {np.shape(values)[0]} time points of features for "
                                 f"{length} volumes; extract one frame per volume (syncact activations --tr ... "
                                 "--timepoints ...).")
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    means, iscs = [], []
    for r in runs:
        mean, isc = streamed_isc(store, r, subjects, scratch / f"mean_run-{r}.npy")
        means.append(mean)
        iscs.append(isc)
    ceiling = mean_ceiling(iscs)
    delays = list(delays) if delays is not None else default_delays(store.tr)
    bands = band_features({layer: [features[r][layer] for r in runs] for layer in layers}, delays,
                          n_components=n_components)
    kwargs = {"n_iter": n_iter, "chunk_size": chunk_size, "solver": solver, "backend": backend, "seed": seed,
              "progress": progress}
    jackknife = interval and len(subjects) <= JACKKNIFE_MAX_SUBJECTS
    scores = fit_encoding(bands, means, keep_predictions=scratch / "predictions" if jackknife else False, **kwargs)
    ceiled_interval = streamed_interval(store, runs, subjects, scores.predictions) if jackknife else None
    scores.predictions = None  # memory-mapped files in scratch, which the caller removes
    mismatched = None
    if null and len({m.shape[0] for m in means}) == 1:
        rotated = {layer: values[1:] + values[:1] for layer, values in bands.items()}
        mismatched = fit_encoding(rotated, means, **kwargs)
    return StoreEncoding(scores, mismatched, np.mean([i.mean(axis=0) for i in iscs], axis=0), ceiling, subjects, runs,
                         delays, ceiled_interval)
