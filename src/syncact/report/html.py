"""Self-contained HTML pages: figures as data URIs, one hashed inline script at most (tables: :mod:`.tables`).

The pages of a run (:mod:`syncact.experiment.report`) are rendered with these helpers; nothing here
knows what a run is.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from syncact import _io

SORT_TABLES = """
for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
    th.tabIndex = 0;
    const sort = () => {
      const body = table.tBodies[0];
      const up = th.getAttribute("aria-sort") !== "ascending";
      for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      const key = (row) => { const cell = row.cells[col]; return cell.dataset.v !== undefined ? parseFloat(cell.dataset.v) : cell.textContent; };
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, {numeric: true});
        return up ? order : -order;
      });
      for (const row of rows) body.appendChild(row);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
  });
}
"""
"""Script that sorts a ``table.sortable`` by the column whose header is clicked (``data-v`` holds raw numbers)."""


def data_uri(image: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of an image, to embed it in the page."""
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def script_hash(script: str) -> str:
    """The CSP hash that allows one inline script (``'sha256-...'``)."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def json_default(value: object) -> object:
    """``json.dumps`` default for numpy scalars."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    raise TypeError(type(value))


def number(value: object) -> float | None:
    """A float, or None for a missing value."""
    return None if value is None or pd.isna(value) else float(value)


def render_page(template: str, path: str | Path, **context: object) -> Path:
    """Render one of this package's templates (autoescaped) to ``path`` atomically."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("syncact.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]))
    return _io.write_text(path, env.get_template(template).render(**context))
