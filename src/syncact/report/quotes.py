"""Numbers quoted from a table: what a summary sentence says, and how to find it again.

A :class:`Quote` keeps the value, its rounded text, the table (``tables/<table>.csv`` of a result
folder), the rows (``where``), the column and the aggregate it was computed from. A page links it to
the element ``t-<table>`` that shows the table, and :func:`quote_html` writes all of it into the link,
so that a test (or a sceptical reader) recomputes every number of a summary from the files.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from syncact.report.tables import Column, column, format_value

AGGREGATES = {"value": lambda s: s.iloc[0], "sum": np.sum, "mean": np.mean, "median": np.median, "min": np.min,
              "max": np.max}
"""How a quote reduces the rows it selects."""


@dataclass(frozen=True)
class Quote:
    """A number quoted from a run table.

    Attributes
    ----------
    value : float
        The number (unrounded).
    text : str
        As the page shows it (rounded by the column's kind).
    table : str
        Table name: ``tables/<table>.csv`` in the run directory.
    where : dict of str to object
        Column values that select the rows (empty: all rows).
    column : str
    aggregate : str
        One of :data:`AGGREGATES` over the selected rows.
    kind : str
        How ``text`` rounds ``value`` (:func:`~syncact.report.tables.format_value`).
    """

    value: float
    text: str
    table: str
    where: dict[str, object]
    column: str
    aggregate: str = "value"
    kind: str = "number"

    @property
    def anchor(self) -> str:
        """Id of the page element that shows the table."""
        return "t-" + self.table


def select(table: pd.DataFrame, where: dict[str, object]) -> pd.DataFrame:
    """Rows of ``table`` whose columns equal ``where`` (compared as strings: CSV round trips change types)."""
    keep = np.ones(len(table), dtype=bool)
    for name, value in where.items():
        keep &= table[name].astype(str).to_numpy() == str(value)
    return table[keep]


def quote(tables: dict[str, pd.DataFrame], table: str, column_name: str, aggregate: str = "value",
          glossary: dict[str, Column] | None = None, **where: object) -> Quote:
    """Quote ``aggregate`` of ``column_name`` over the rows of ``tables[table]`` that match ``where``, rounded by the
    column's kind (``glossary`` first, then :data:`~syncact.report.tables.COLUMNS`)."""
    rows = select(tables[table], where)
    if rows.empty:
        raise KeyError(f"no row of {table} matches {where}")
    value = float(AGGREGATES[aggregate](rows[column_name].astype(float)))
    kind = "count" if aggregate == "sum" else column(column_name, glossary=glossary).kind  # a sum is a count
    kind = "number" if kind == "text" else kind
    return Quote(value, format_value(value, kind), table, dict(where), column_name, aggregate, kind)


def quote_html(q: Quote) -> str:
    """A quoted number as a link to its table, carrying what is needed to recompute it (``data-*``)."""
    where = html.escape(json.dumps(q.where, default=str))
    return (f'<a class="q" href="#{q.anchor}" data-table="{q.table}" data-column="{q.column}" '
            f'data-aggregate="{q.aggregate}" data-where="{where}" data-value="{q.value!r}" data-kind="{q.kind}">'
            f'{html.escape(q.text)}</a>')


def sentence_html(parts: list[str | Quote]) -> str:
    """A sentence of text (escaped) and quotes (links)."""
    return "".join(quote_html(p) if isinstance(p, Quote) else html.escape(p) for p in parts)
