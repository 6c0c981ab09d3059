"""Figures (PNG bytes), readable tables, quoted numbers and self-contained static HTML pages: no request leaves a page.

What a run's page shows is decided by :mod:`syncact.experiment.report`; :mod:`syncact.report.rsa` writes the
page of a layer-to-brain mapping (the second seed).
"""

from syncact.report import figures
from syncact.report.html import data_uri, render_page, script_hash
from syncact.report.quotes import Quote, quote, quote_html, sentence_html
from syncact.report.tables import COLUMNS, Column, format_value, readable_table

__all__ = ["COLUMNS", "Column", "Quote", "data_uri", "figures", "format_value", "quote", "quote_html", "readable_table",
           "render_page", "script_hash", "sentence_html"]
