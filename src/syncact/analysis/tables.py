"""The paper's tables from a tidy table of pairing summaries."""

from __future__ import annotations

import pandas as pd


def models_by_runs(summary: pd.DataFrame, *, value: str = "mean_pcc", significant: str = "mean_significant") -> pd.DataFrame:
    """Models x runs table of mean PCC (the paper's Tables 5 and 6; Table 8 of its appendix for Eq.1).

    A value is marked with ``*`` when the mean PCC is not significant (``significant`` False), as in
    the paper.

    Parameters
    ----------
    summary : DataFrame
        One row per (model, weights, layer, run) with columns ``value`` and ``significant``.
    value : str, default="mean_pcc"
        ``"mean_pcc_eq1"`` with ``significant="mean_significant_eq1"`` gives the Eq.1 table.
    significant : str, default="mean_significant"

    Returns
    -------
    DataFrame
        Index ``model / weights / layer``; one column per run (strings like ``0.2415`` or ``0.1369*``).
    """
    rows = summary.assign(
        label=summary["model"] + " / " + summary["weights"] + " / " + summary["layer"],
        cell=[f"{v:.4f}" + ("" if sig else "*") for v, sig in zip(summary[value], summary[significant], strict=True)],
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


def eq1_vs_eq2(summary: pd.DataFrame) -> pd.DataFrame:
    """Eq.1 (each filter with its best FBN) beside Eq.2 (each FBN with its best filter), per model and layer.

    Parameters
    ----------
    summary : DataFrame
        Pairing summaries with ``model, weights, layer, run, mean_pcc, mean_significant, mean_pcc_eq1,
        mean_significant_eq1, n_fbns, n_significant_shift, n_filters, n_significant_eq1, n_mutual``.

    Returns
    -------
    DataFrame
        One row per (model, weights, layer), averaged over runs: ``mean_pcc_eq2, mean_pcc_eq1``, the runs
        whose mean PCC is significant (``"4/4"``) for each, the share of pairs significant for each, and
        ``mutual`` (pairs that are best in both directions, summed over runs, ``"12/256"`` of the FBN pairs).
    """
    grouped = summary.groupby(["model", "weights", "layer"], sort=False)
    table = grouped.agg(
        mean_pcc_eq2=("mean_pcc", "mean"), mean_pcc_eq1=("mean_pcc_eq1", "mean"), runs=("run", "size"),
        runs_eq2=("mean_significant", "sum"), runs_eq1=("mean_significant_eq1", "sum"),
        fbns=("n_fbns", "sum"), sig_eq2=("n_significant_shift", "sum"), filters=("n_filters", "sum"),
        sig_eq1=("n_significant_eq1", "sum"), mutual=("n_mutual", "sum"),
    )
    out = pd.DataFrame({
        "mean_pcc_eq2": table["mean_pcc_eq2"],
        "mean_pcc_eq1": table["mean_pcc_eq1"],
        "significant_runs_eq2": [f"{a}/{b}" for a, b in zip(table["runs_eq2"], table["runs"], strict=True)],
        "significant_runs_eq1": [f"{a}/{b}" for a, b in zip(table["runs_eq1"], table["runs"], strict=True)],
        "share_significant_eq2": table["sig_eq2"] / table["fbns"],
        "share_significant_eq1": table["sig_eq1"] / table["filters"],
        "mutual": [f"{a}/{b}" for a, b in zip(table["mutual"], table["fbns"], strict=True)],
    })
    return out.reset_index()
