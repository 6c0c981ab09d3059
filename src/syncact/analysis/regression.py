"""Does a better ImageNet classifier align better with the brain? Mean PCC regressed on top-1 accuracy.

The paper (Fig. 7) fits a line to the mean PCC of each model against its ImageNet top-1 accuracy and
reports R^2 > 0.7, p < 0.05. With ten models such a fit is fragile, so beside scipy's least-squares fit
we give percentile bootstrap intervals over models (resampled with replacement) for the slope and R^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from syncact._validation import check_positive
from syncact.exceptions import DataError


@dataclass(frozen=True)
class AccuracyRegression:
    """Least-squares line of mean PCC on ImageNet top-1 accuracy across models.

    Attributes
    ----------
    points : DataFrame
        One row per model: ``model, top1_accuracy, mean_pcc``.
    slope, intercept, r2, p_value : float
        From :func:`scipy.stats.linregress` (two-sided p of the slope).
    slope_ci, r2_ci : (float, float)
        Percentile bootstrap intervals over models.
    """

    points: pd.DataFrame
    slope: float
    intercept: float
    r2: float
    p_value: float
    slope_ci: tuple[float, float]
    r2_ci: tuple[float, float]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"n_models": len(self.points), "slope": self.slope, "intercept": self.intercept,
                              "r2": self.r2, "p_value": self.p_value, "slope_low": self.slope_ci[0],
                              "slope_high": self.slope_ci[1], "r2_low": self.r2_ci[0], "r2_high": self.r2_ci[1]}])


def accuracy_regression(summary: pd.DataFrame, *, layer: str | None = None, weights: str = "imagenet",
                        n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> AccuracyRegression:
    """Regress each model's mean PCC (over runs, and layers unless ``layer``) on its top-1 accuracy.

    Parameters
    ----------
    summary : DataFrame
        Pairing summaries (``tables/summary.csv``): ``model, weights, layer, run, mean_pcc, top1_accuracy``.
    layer : str, optional
        Use this layer only (e.g. "last_conv"); default: the mean over the layers analysed.
    weights : str, default="imagenet"
        Only models with these weights (accuracy is an ImageNet property).
    n_boot, level, seed
        Bootstrap over models.

    Returns
    -------
    AccuracyRegression
    """
    check_positive("n_boot", n_boot, integer=True)
    rows = summary[summary["weights"] == weights]
    if layer is not None:
        rows = rows[rows["layer"] == layer]
    rows = rows.dropna(subset=["top1_accuracy"])
    points = rows.groupby("model", sort=False).agg(top1_accuracy=("top1_accuracy", "first"),
                                                   mean_pcc=("mean_pcc", "mean")).reset_index()
    if len(points) < 3 or points["top1_accuracy"].nunique() < 2:
        raise DataError(f"the regression needs at least 3 models with {weights!r} weights and a known top-1 accuracy "
                        f"(and two different accuracies); got {points['model'].tolist()}. Set top1_accuracy in "
                        "[[models]] for models without a published one.")
    x, y = points["top1_accuracy"].to_numpy(float), points["mean_pcc"].to_numpy(float)
    fit = stats.linregress(x, y)
    rng = np.random.default_rng(seed)
    slopes, r2s = [], []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) == 0 or np.ptp(y[idx]) == 0:
            continue  # a resample of one model (or of equal PCCs) has no line
        boot = stats.linregress(x[idx], y[idx])
        slopes.append(boot.slope)
        r2s.append(boot.rvalue**2)
    tail = (1 - level) / 2 * 100
    return AccuracyRegression(points, float(fit.slope), float(fit.intercept), float(fit.rvalue**2), float(fit.pvalue),
                              tuple(np.percentile(slopes, [tail, 100 - tail])), tuple(np.percentile(r2s, [tail, 100 - tail])))
