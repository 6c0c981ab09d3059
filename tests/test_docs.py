"""The figures README.md and docs/ quote are the records' figures (``benchmarks/doc_tables.py``)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _doc_tables():
    spec = importlib.util.spec_from_file_location("doc_tables", ROOT / "benchmarks" / "doc_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_record_a_page_names_exists(page):
    for name in re.findall(r"benchmarks/results/([\w.-]+\.json)", page.read_text()):
        assert (ROOT / "benchmarks" / "results" / name).is_file(), f"{page.name} quotes {name}, which is not recorded"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_tables_are_the_records_tables(page):
    for kind, record, quoted, rendered in _doc_tables().quoted_tables(page.read_text()):
        assert quoted == rendered, (f"{page.name}: the {kind} table differs from {record}; run "
                                    f"`python benchmarks/doc_tables.py {page.relative_to(ROOT)}`")


def test_the_tables_are_marked_where_expected():
    # the tables of measured figures are held; a marker lost in an edit would silently free them
    kinds = {kind for page in PAGES for kind, *_ in _doc_tables().quoted_tables(page.read_text())}
    assert kinds == {"recovery", "calibration-grid", "report", "encoding-demo", "encoding-networks", "encoding-speed",
                     "encoding-solvers", "encoding-whole-brain", "encoding-rerun", "surface-accuracy", "surface-searchlight",
                     "demo-surface", "report-surface", "subspace", "pairing", "extract", "peers", "graph", "study-run"}


def test_rewrite_fills_an_empty_marked_table(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- table: report benchmarks/results/report-20261202-064230.json -->\n<!-- /table -->\nafter\n")
    assert _doc_tables().rewrite(page)
    text = page.read_text()
    assert text.startswith("before\n<!-- table: report") and text.endswith("<!-- /table -->\nafter\n")
    assert "| cards + page (s) | 30.6 | 32.1 | 1.05 | <= 1.2 |" in text and not _doc_tables().rewrite(page)


def test_an_unknown_table_kind_is_an_error():
    with pytest.raises(KeyError):  # an unknown kind is an error, not a table left unchecked
        _doc_tables().quoted_tables("<!-- table: nope benchmarks/results/recovery-20261202-014156.json -->\nx\n<!-- /table -->")


def test_the_api_reference_is_current():
    assert (ROOT / "docs" / "api.md").read_text() == _api_module().render(), "run `python docs/make_api.py`"


def test_fill_doc_writes_shared_parameters_once():
    from syncact._docs import DOCS, fill_doc

    @fill_doc
    def f():
        """Do it at 50%.

        Parameters
        ----------
        %(executor)s
        %(not_a_parameter)s
        """

    assert "50%." in f.__doc__ and "%(not_a_parameter)s" in f.__doc__  # only known names are replaced
    first, *rest = DOCS["executor"].split("\n")
    assert f"\n        {first}\n" in f.__doc__ and f"\n        {rest[0]}" in f.__doc__  # indented as the placeholder


def test_no_public_docstring_keeps_a_placeholder():
    import inspect

    from syncact._docs import DOCS

    make_api = _api_module()
    for package in make_api.PACKAGES:
        module = importlib.import_module(f"syncact.{package}")
        for name in make_api._public(module):
            doc = inspect.getdoc(getattr(module, name)) or ""
            assert not any(f"%({key})s" in doc for key in DOCS), f"syncact.{package}.{name} lacks @fill_doc"


def _api_module():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_calibration_prose_and_warning_quote_the_record():
    # the pooled per-layer rates in docs/statistics.md and in pair()'s warning for layers of >1,000 filters
    import inspect
    import json

    from syncact.sync import pairing

    record = json.loads((ROOT / "benchmarks" / "results" / "calibration-grid-20261202-041703.json").read_text())
    text = (ROOT / "docs" / "statistics.md").read_text()
    source = inspect.getsource(pairing.pair)
    for layer in ("block3", "last_conv"):
        rows = [r for r in record["table"] if r["layer"] == layer]
        pooled = sum(r["shift_rate"] * r["n_pairs"] for r in rows) / sum(r["n_pairs"] for r in rows)
        assert f"{pooled:.3f} pooled" in text, (layer, pooled)
        if layer == "last_conv":
            low, high = min(r["shift_rate"] for r in rows), max(r["shift_rate"] for r in rows)
            assert f"{pooled:.3f} ({low:.3f}-{high:.3f}" in source
            assert f"{low:.3f}-{high:.3f} in every cell" in text
