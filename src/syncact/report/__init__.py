"""A self-contained static HTML report of a run (figures embedded, no request leaves the page)."""

from syncact.report.html import write_report

__all__ = ["write_report"]
