"""The paper's tables from a tidy table of pairing summaries."""

from __future__ import annotations

import pandas as pd


def models_by_runs(summary: pd.DataFrame, *, value: str = "mean_pcc") -> pd.DataFrame:
    """Models x runs table of mean PCC (the paper's Tables 5 and 6).

    A value is marked with ``*`` when the mean PCC is not significant (``mean_significant`` False),
    as in the paper.

    Parameters
    ----------
    summary : DataFrame
        One row per (model, weights, layer, run) with columns ``mean_pcc`` and ``mean_significant``.
    value : str, default="mean_pcc"

    Returns
    -------
    DataFrame
        Index ``model / weights / layer``; one column per run (strings like ``0.2415`` or ``0.1369*``).
    """
    rows = summary.assign(
        label=summary["model"] + " / " + summary["weights"] + " / " + summary["layer"],
        cell=[f"{v:.4f}" + ("" if sig else "*") for v, sig in zip(summary[value], summary["mean_significant"], strict=False)],
        run=("Run #" + summary["run"].astype(str)),
    )
    table = rows.pivot(index="label", columns="run", values="cell")
    table.index.name = "model / weights / layer"
    table.columns.name = None
    return table


def layers_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Layers table (the paper's Table 7): mean PCC over runs and the Ratio of non-significant pairs.

    Parameters
    ----------
    summary : DataFrame
        Pairing summaries with ``model, weights, layer, run, mean_pcc, n_fbns, n_significant_shift``.

    Returns
    -------
    DataFrame
        One row per (model, weights, layer): ``mean_pcc`` (mean over runs), ``ratio`` as the paper
        writes it (non-significant pairs / pairs, summed over runs) and ``ratio_value``.
    """
    grouped = summary.groupby(["model", "weights", "layer"], sort=False)
    table = grouped.agg(mean_pcc=("mean_pcc", "mean"), pairs=("n_fbns", "sum"), significant=("n_significant_shift", "sum"))
    not_significant = table["pairs"] - table["significant"]
    table["ratio"] = [f"{a}/{b}" for a, b in zip(not_significant, table["pairs"], strict=True)]
    table["ratio_value"] = not_significant / table["pairs"]
    return table.drop(columns=["pairs", "significant"]).reset_index()
