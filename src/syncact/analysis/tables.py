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
