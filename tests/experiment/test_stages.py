"""Stages tested alone, on inputs small enough to write by hand."""

import pandas as pd

from syncact.experiment import RunDirectory
from syncact.experiment.pairing import write_accuracy_regression


def test_accuracy_regression_is_written_with_three_imagenet_models(tmp_path):
    summary = pd.DataFrame({"model": ["a", "b", "c", "d"], "weights": ["imagenet"] * 3 + ["random"], "layer": "x",
                            "run": "1", "mean_pcc": [0.2, 0.3, 0.35, 0.1], "top1_accuracy": [60.0, 70.0, 75.0, None]})
    write_accuracy_regression(summary, RunDirectory(tmp_path), seed=0)
    table = pd.read_csv(tmp_path / "tables" / "accuracy_regression.csv")
    assert table.loc[0, "n_models"] == 3 and table.loc[0, "slope"] > 0
    assert (tmp_path / "figures" / "accuracy_regression.png").stat().st_size > 1000
    write_accuracy_regression(summary.iloc[1:], RunDirectory(tmp_path / "two"), seed=0)  # two ImageNet models: nothing written
    assert not (tmp_path / "two").exists()
