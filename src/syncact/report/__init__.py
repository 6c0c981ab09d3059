"""Figures (PNG bytes) and self-contained static HTML pages: no request leaves a page.

What a page shows is decided by its caller (a run's page: :mod:`syncact.experiment.report`).
"""

from syncact.report import figures
from syncact.report.html import data_uri, html_table, render_page, script_hash

__all__ = ["data_uri", "figures", "html_table", "render_page", "script_hash"]
