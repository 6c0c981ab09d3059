"""Self-contained HTML pages: figures as data URIs, escaped tables, one hashed inline script at most.

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


def data_uri(image: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of an image, to embed it in the page."""
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def html_table(df: pd.DataFrame, index: bool = False, floatfmt: str = "{:.4g}") -> str:
    """A DataFrame as an escaped HTML table."""
    return df.to_html(index=index, border=0, classes="tbl", float_format=lambda v: floatfmt.format(v), escape=True)


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
