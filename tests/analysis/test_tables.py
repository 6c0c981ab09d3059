import numpy as np
import pandas as pd
import pytest
from scipy import stats

from syncact.analysis import accuracy_regression, layers_table
from syncact.exceptions import DataError


def _summary(rng, slope=0.01, noise=0.005):
    acc = {"alexnet": 56.5, "vgg16": 71.6, "resnet18": 69.8, "resnet50": 76.1, "densenet161": 77.1,
           "mobilenet_v2": 71.9, "shufflenet_v2_x1_0": 69.4, "mnasnet1_0": 73.5}
    rows = []
    for model, a in acc.items():
        for run in ("1", "2"):
            for layer in ("block3", "last_conv"):
                rows.append({"model": model, "weights": "imagenet", "layer": layer, "run": run, "top1_accuracy": a,
                             "mean_pcc": 0.1 + slope * (a - 70) + noise * rng.normal(), "n_fbns": 64,
                             "n_significant_shift": int(rng.integers(40, 64))})
    rows.append({**rows[0], "weights": "random", "top1_accuracy": None})  # left out: not an ImageNet model
    return pd.DataFrame(rows)


def test_regression_equals_scipy_and_its_interval_holds_the_planted_slope(rng):
    summary = _summary(rng)
    fit = accuracy_regression(summary, n_boot=500)
    points = summary[summary["weights"] == "imagenet"].groupby("model", sort=False)
    x, y = points["top1_accuracy"].first().to_numpy(), points["mean_pcc"].mean().to_numpy()
    ref = stats.linregress(x, y)
    assert fit.slope == pytest.approx(ref.slope) and fit.r2 == pytest.approx(ref.rvalue**2)
    assert fit.p_value == pytest.approx(ref.pvalue) and len(fit.points) == 8
    assert fit.slope_ci[0] < 0.01 < fit.slope_ci[1] and fit.r2 > 0.9
    assert list(fit.to_frame().columns)[:5] == ["n_models", "slope", "intercept", "r2", "p_value"]
    one = accuracy_regression(summary, layer="last_conv", n_boot=100)
    assert one.points["mean_pcc"].iloc[0] == pytest.approx(
        summary[(summary["model"] == "alexnet") & (summary["layer"] == "last_conv") & (summary["weights"] == "imagenet")]
        ["mean_pcc"].mean())
    with pytest.raises(DataError, match="at least 3 models"):
        accuracy_regression(summary[summary["model"].isin(["alexnet", "vgg16"])])


def test_no_relation_gives_a_small_r2(rng):
    fit = accuracy_regression(_summary(rng, slope=0.0, noise=0.05), n_boot=300)
    assert fit.p_value > 0.01 and fit.slope_ci[0] < 0 < fit.slope_ci[1]


def test_layers_table_ratio_as_the_paper_writes_it(rng):
    summary = _summary(rng)
    table = layers_table(summary[summary["weights"] == "imagenet"])
    row = table[(table["model"] == "vgg16") & (table["layer"] == "block3")].iloc[0]
    sub = summary[(summary["model"] == "vgg16") & (summary["layer"] == "block3")]
    assert row["ratio"] == f"{128 - sub['n_significant_shift'].sum()}/128"
    assert row["mean_pcc"] == pytest.approx(sub["mean_pcc"].mean())
    assert np.isclose(row["ratio_value"], (128 - sub["n_significant_shift"].sum()) / 128)


def test_eq1_table_and_eq1_vs_eq2(rng):
    from syncact.analysis import eq1_vs_eq2, models_by_runs

    summary = _summary(rng).assign(mean_significant=True, mean_pcc_eq1=0.2, mean_significant_eq1=False,
                                   n_filters=512, n_significant_eq1=100, n_mutual=10)
    summary.loc[0, "mean_significant_eq1"] = True
    summary = summary[summary["weights"] == "imagenet"]
    eq1 = models_by_runs(summary, value="mean_pcc_eq1", significant="mean_significant_eq1")
    assert eq1.loc["alexnet / imagenet / block3", "Run #1"] == "0.2000"
    assert eq1.loc["alexnet / imagenet / block3", "Run #2"] == "0.2000*"
    table = eq1_vs_eq2(summary)
    row = table[(table["model"] == "alexnet") & (table["layer"] == "block3")].iloc[0]
    sub = summary[(summary["model"] == "alexnet") & (summary["layer"] == "block3")]
    assert row["mean_pcc_eq2"] == pytest.approx(sub["mean_pcc"].mean()) and row["mean_pcc_eq1"] == pytest.approx(0.2)
    assert row["significant_runs_eq2"] == "2/2" and row["significant_runs_eq1"] == "1/2"
    assert row["share_significant_eq2"] == pytest.approx(sub["n_significant_shift"].sum() / 128)
    assert row["share_significant_eq1"] == pytest.approx(100 / 512) and row["mutual"] == "20/128"
    assert len(table) == 16
