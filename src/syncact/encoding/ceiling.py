"""Inter-subject correlation and the noise ceiling it implies for naturalistic data.

With every subject watching the same movie, the response a stimulus model can hope to predict is the part
shared across subjects. Model (per voxel or FBN, z-scored per subject): ``x_s = s + e_s`` with a shared
signal ``s`` of variance ``rho`` and independent noise ``e_s`` of variance ``1 - rho``, the same in every
subject. The leave-one-out ISC of subject ``s``, ``r = corr(x_s, mean of the other n - 1 subjects)``, is

    r = rho / sqrt(rho + (1 - rho) / (n - 1)),

so ``rho`` follows from the ISC (:func:`shared_variance`). A perfect model of ``s`` then reaches
``corr(s, x_s) = sqrt(rho)`` on one subject and ``sqrt(rho / (rho + (1 - rho) / m))`` on the mean of ``m``
subjects (:func:`noise_ceiling`). Assumptions: noise independent across subjects (no shared artefact),
equal signal and noise variances across subjects, stationarity over the run; a negative ISC gives ``rho`` 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from syncact.encoding.features import zscore
from syncact.exceptions import DataError, ShapeError


def isc(data: np.ndarray) -> np.ndarray:
    """Leave-one-out inter-subject correlation: each subject with the mean of the others.

    Parameters
    ----------
    data : ndarray of shape (n_subjects, n_timepoints, n_targets)
        The same run (movie) in every subject; targets are voxels or FBN activations.

    Returns
    -------
    ndarray of shape (n_subjects, n_targets)
        Equal to ``brainiak.isc.isc`` (leave-one-out, no summary) on ``data.transpose(1, 2, 0)``.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3:
        raise ShapeError(f"data must be (n_subjects, n_timepoints, n_targets), got shape {data.shape}.")
    n = data.shape[0]
    if n < 2:
        raise DataError(f"inter-subject correlation needs at least 2 subjects, got {n}.")
    if not np.isfinite(data).all():
        raise DataError("data contain NaN or infinite values.")
    total = data.sum(axis=0)
    out = np.empty((n, data.shape[2]))
    for s in range(n):
        others = (total - data[s]) / (n - 1)
        out[s] = (zscore(data[s]) * zscore(others)).mean(axis=0)
    return out


def shared_variance(isc_loo: np.ndarray, n_subjects: int) -> np.ndarray:
    """The shared-signal variance ``rho`` (0-1) implied by leave-one-out ISC among ``n_subjects`` (module docstring)."""
    if n_subjects < 2:
        raise DataError(f"n_subjects must be at least 2, got {n_subjects}.")
    r2 = np.clip(np.asarray(isc_loo, dtype=np.float64), 0, 1) ** 2
    k = 1.0 / (n_subjects - 1)
    # rho^2 - r^2 (1 - k) rho - r^2 k = 0, positive root
    rho = (r2 * (1 - k) + np.sqrt((r2 * (1 - k)) ** 2 + 4 * r2 * k)) / 2
    return np.clip(rho, 0, 1)


def noise_ceiling(isc_loo: np.ndarray, n_subjects: int, n_average: int = 1) -> np.ndarray:
    """The highest correlation a perfect stimulus model can reach, per target.

    Parameters
    ----------
    isc_loo : ndarray
        Leave-one-out ISC (:func:`isc`, e.g. its mean over subjects).
    n_subjects : int
        Subjects the ISC was computed over.
    n_average : int, default=1
        Subjects averaged in the data the model is scored on (1: one subject; the test-subject mean: its size).

    Returns
    -------
    ndarray
        ``sqrt(rho / (rho + (1 - rho) / n_average))``, 0 where ``rho`` is 0.
    """
    if n_average < 1:
        raise DataError(f"n_average must be at least 1, got {n_average}.")
    rho = shared_variance(isc_loo, n_subjects)
    denominator = rho + (1 - rho) / n_average
    return np.sqrt(np.divide(rho, denominator, out=np.zeros_like(rho), where=denominator > 0))


def mean_ceiling(iscs: Sequence[np.ndarray]) -> np.ndarray:
    """Noise ceiling of the subjects' mean, averaged over runs.

    Parameters
    ----------
    iscs : sequence of ndarray
        Per run, every subject's leave-one-out ISC (:func:`isc`), (n_subjects, n_targets).

    Returns
    -------
    ndarray of shape (n_targets,)
        Mean over runs of :func:`noise_ceiling` of the mean ISC, for a mean of all ``n_subjects``.
    """
    return np.mean([noise_ceiling(i.mean(axis=0), i.shape[0], n_average=i.shape[0]) for i in iscs], axis=0)


def ceiled(score: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """``score / ceiling`` clipped to [0, 1]; NaN where the ceiling is 0 (nothing to explain)."""
    score, ceiling = np.asarray(score, dtype=np.float64), np.asarray(ceiling, dtype=np.float64)
    out = np.full(np.broadcast(score, ceiling).shape, np.nan)
    np.divide(score, ceiling, out=out, where=ceiling > 0)
    return np.where(np.isnan(out), np.nan, np.clip(out, 0, 1))


@dataclass
class CeiledScores:
    """Ceiled scores of held-out predictions of the subjects' mean, with a jackknife interval over subjects.

    Attributes
    ----------
    r : ndarray of shape (n_targets,)
        Correlation of the prediction with the mean of all subjects (mean over runs).
    ceiling : ndarray of shape (n_targets,)
        Noise ceiling of that mean (:func:`noise_ceiling`, ISC averaged over runs).
    value, low, high : ndarray of shape (n_targets,)
        ``ceiled(r, ceiling)`` and its jackknife confidence interval over subjects, clipped to [0, 1]; NaN
        where the ceiling is 0 or fewer than 3 subjects leave no ISC when one is left out.
    """

    r: np.ndarray
    ceiling: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _ceiled_for(predictions: Sequence[np.ndarray], per_subject: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(r, ceiling, ceiled) of the predictions against the mean of ``per_subject`` (per run: (n, T, targets))."""
    r = np.mean([(zscore(p) * zscore(d.mean(axis=0))).mean(axis=0) for p, d in zip(predictions, per_subject, strict=True)],
                axis=0)
    ceiling = mean_ceiling([isc(d) for d in per_subject])
    return r, ceiling, ceiled(r, ceiling)


def _jackknife_bounds(value: np.ndarray, leave_out: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """``value ± t(n - 1) * se_jackknife`` from the n leave-one-out values (n, ...), clipped to [0, 1]."""
    from scipy.stats import t as student

    n = leave_out.shape[0]
    se = np.sqrt((n - 1) / n * ((leave_out - leave_out.mean(axis=0)) ** 2).sum(axis=0))
    half = student.ppf(0.5 + confidence / 2, n - 1) * se
    return np.clip(value - half, 0, 1), np.clip(value + half, 0, 1)


def jackknife_ceiled(predictions: Sequence[np.ndarray], per_subject: Sequence[np.ndarray], *,
                     confidence: float = 0.95) -> CeiledScores:
    """Ceiled scores of held-out predictions and their leave-one-subject-out jackknife interval.

    Each left-out subject changes both the scored average and its ceiling (the ISC among the others, for a mean
    of ``n - 1``); the prediction stays the one fitted on all subjects' other runs (no refit: the held-out run
    never entered it). The interval is ``value ± t(n - 1) * se_jackknife``, clipped to [0, 1].

    Parameters
    ----------
    predictions : sequence of ndarray
        Per run, the held-out prediction, (n_timepoints_run, n_targets) (``EncodingScores.predictions``).
    per_subject : sequence of ndarray
        Per run, every subject's data, (n_subjects, n_timepoints_run, n_targets), the same subjects in each run.
    confidence : float, default=0.95

    Returns
    -------
    CeiledScores
    """
    per_subject = [np.asarray(d, dtype=np.float64) for d in per_subject]
    if len(predictions) != len(per_subject) or not per_subject:
        raise ShapeError(f"{len(predictions)} runs of predictions for {len(per_subject)} runs of data.")
    for p, d in zip(predictions, per_subject, strict=True):
        if d.ndim != 3 or np.shape(p) != d.shape[1:]:
            raise ShapeError(f"a run's prediction {np.shape(p)} must match its data's (n_timepoints, n_targets) "
                             f"{d.shape[1:]}; data must be (n_subjects, n_timepoints, n_targets).")
    if len({d.shape[0] for d in per_subject}) != 1:
        raise ShapeError("every run needs the same subjects.")
    n = per_subject[0].shape[0]
    r, ceiling, value = _ceiled_for(predictions, per_subject)
    low = high = np.full_like(value, np.nan)
    if n >= 3:
        leave_out = np.stack([_ceiled_for(predictions, [np.delete(d, j, axis=0) for d in per_subject])[2] for j in range(n)])
        low, high = _jackknife_bounds(value, leave_out, confidence)
    return CeiledScores(r, ceiling, value, low, high)


@dataclass
class RunSums:
    """One run's centred cross-products, from which every leave-one-subject-out ceiled score follows (streamed).

    Attributes
    ----------
    n_timepoints : int
    gram : ndarray of shape (n_subjects, n_subjects, n_targets)
        Centred cross-products of every two subjects' data.
    cross : ndarray of shape (n_subjects, n_targets)
        Centred cross-products of each subject's data with the held-out prediction.
    power : ndarray of shape (n_targets,)
        Centred sum of squares of the prediction.
    """

    n_timepoints: int
    gram: np.ndarray
    cross: np.ndarray
    power: np.ndarray

    @classmethod
    def accumulate(cls, blocks: Iterable[tuple[np.ndarray, np.ndarray]]) -> RunSums:
        """From blocks of time points: (every subject's rows, (n_subjects, b, n_targets); the prediction's rows,
        (b, n_targets)). Memory: the sums, (n_subjects^2 + n_subjects + 1) x n_targets floats, and one block."""
        t = 0
        for rows, prediction in blocks:
            rows = np.asarray(rows, dtype=np.float64)
            prediction = np.asarray(prediction, dtype=np.float64)
            if t == 0:
                n, v = rows.shape[0], rows.shape[2]
                s_x, s_xx, s_p, s_pp, s_px = np.zeros((n, v)), np.zeros((n, n, v)), np.zeros(v), np.zeros(v), np.zeros((n, v))
            t += rows.shape[1]
            s_x += rows.sum(axis=1)
            s_xx += np.einsum("itv,jtv->ijv", rows, rows)
            s_p += prediction.sum(axis=0)
            s_pp += (prediction**2).sum(axis=0)
            s_px += np.einsum("itv,tv->iv", rows, prediction)
        if t == 0:
            raise DataError("a run without time points.")
        return cls(t, s_xx - s_x[:, None] * s_x[None] / t, s_px - s_x * s_p / t, s_pp - s_p**2 / t)


def _ceiled_from_sums(runs: Sequence[RunSums], keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r, ceiling, ceiled) of the predictions against the mean of the subjects ``keep`` (as :func:`_ceiled_for`)."""
    m = int(keep.size)
    rs, ceilings = [], []
    for run in runs:
        gram = run.gram[np.ix_(keep, keep)]  # (m, m, V)
        with_total = gram.sum(axis=1)  # cov(x_i, total), (m, V)
        total = with_total.sum(axis=0)  # var(total)
        denominator = np.sqrt(np.clip(run.power * total, 0, None))
        rs.append(np.divide(run.cross[keep].sum(axis=0), denominator, out=np.zeros_like(total), where=denominator > 0))
        own = np.einsum("iiv->iv", gram)
        rest = total[None] - 2 * with_total + own  # var(total - x_i)
        denominator = np.sqrt(np.clip(own * rest, 0, None))
        loo = np.divide(with_total - own, denominator, out=np.zeros_like(own), where=denominator > 0)
        ceilings.append(noise_ceiling(loo.mean(axis=0), m, n_average=m))
    r, ceiling = np.mean(rs, axis=0), np.mean(ceilings, axis=0)
    return r, ceiling, ceiled(r, ceiling)


def jackknife_from_sums(runs: Sequence[RunSums], *, confidence: float = 0.95) -> CeiledScores:
    """:func:`jackknife_ceiled` from each run's :class:`RunSums` (equal to it; for data streamed from a store).

    Parameters
    ----------
    runs : sequence of RunSums
        The same subjects, in the same order, in every run.
    confidence : float, default=0.95

    Returns
    -------
    CeiledScores
    """
    if not runs:
        raise ShapeError("no runs.")
    n = runs[0].gram.shape[0]
    if any(run.gram.shape[0] != n for run in runs):
        raise ShapeError("every run needs the same subjects.")
    everyone = np.arange(n)
    r, ceiling, value = _ceiled_from_sums(runs, everyone)
    low = high = np.full_like(value, np.nan)
    if n >= 3:
        leave_out = np.stack([_ceiled_from_sums(runs, np.delete(everyone, j))[2] for j in range(n)])
        low, high = _jackknife_bounds(value, leave_out, confidence)
    return CeiledScores(r, ceiling, value, low, high)
