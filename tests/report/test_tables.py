"""Readable tables: glossary headers explained, rounding by kind, one significance mark, links, escaping."""

import re

import numpy as np
import pandas as pd
import pytest

from syncact.report import COLUMNS, Column, format_value, readable_table
from syncact.report.tables import column


@pytest.mark.parametrize(("value", "kind", "text"), [
    (0.123456, "r", "0.123"), (-0.5, "r", "-0.500"), (0.0004, "p", "< 0.001"), (0.0062, "p", "0.0062"),
    (0.04999, "p", "0.05"), (0.25, "p", "0.25"), (0.3125, "share", "31 %"), (12.0, "count", "12"),
    (75.12, "accuracy", "75.1"), (0.000436, "number", "0.000436"), (np.nan, "r", "–"), (None, "r", "–"),
    (True, "r", "yes"), ("2/2", "text", "2/2"), (3, "text", "3"), (0.123456, "text", "0.123"),
])
def test_values_are_rounded_to_what_they_mean(value, kind, text):
    assert format_value(value, kind) == text


def test_headers_are_human_and_explained_numbers_rounded_raw_values_kept():
    table = pd.DataFrame({"model": ["resnet18"], "mean_pcc": [0.3009836113], "n_significant_shift": [4],
                          "share_significant_eq2": [0.3125], "temporal_r_run-2": [0.97512], "Run #1": [0.30098]})
    page = readable_table(table, table_id="t-x", default_kind="r")
    assert '<div class="scroll"><table class="tbl sortable" id="t-x">' in page  # wide tables scroll in their own box
    assert f'<th scope="col" title="{COLUMNS["mean_pcc"].help}">Mean PCC</th>' in page
    assert ">Sig. pairs, Eq.2<" in page and ">Time r, run 2<" in page and ">Run #1<" in page
    assert ">mean_pcc<" not in page and ">0.301<" in page and ">31 %<" in page and ">0.975<" in page
    assert 'data-v="0.3009836113"' in page  # sorting uses the unrounded value
    assert "<dt>Mean PCC</dt><dd>" in page  # the explanations, under the table too


def test_significance_is_marked_one_way_and_links_and_escaping_hold():
    table = pd.DataFrame({"fbn": ["FBN-00", "FBN-01"], "label": ['<img src=x onerror="alert(1)">', "ok"],
                          "pcc": [0.61, 0.12]})
    flags = pd.DataFrame({"pcc": [True, False]})
    page = readable_table(table, flags=flags, links={"fbn": {"FBN-01": "#fbn-FBN-01"}})
    assert '<b class="sig">0.610</b>' in page and '<span class="nsig">0.120 n.s.</span>' in page
    assert '<a href="#fbn-FBN-01">FBN-01</a>' in page and '<a href="#fbn-FBN-00">' not in page
    assert "<img" not in page and "&lt;img src=x" in page
    per_row = readable_table(table, links={"label": ["#first", "#second"]})  # a link per row, whatever the value
    assert '<a href="#second">ok</a>' in per_row and per_row.count('<a href="#first">') == 1


def test_a_glossary_of_the_caller_wins_and_unknown_columns_are_derived():
    mine = {"n_significant": Column("Significant centres", "Searchlight centres.", "count")}
    assert column("n_significant", glossary=mine).header == "Significant centres"
    assert column("n_significant").header == "Sig. pairs"
    assert column("some_new_column").header == "some new column" and column("some_new_column").help == ""
    page = readable_table(pd.DataFrame({"n_significant": [3.0]}), glossary=mine, sortable=False)
    assert ">Significant centres<" in page and 'class="tbl"' in page and "sortable" not in page


def test_every_report_column_has_a_header_and_a_line_of_help():
    for name, entry in COLUMNS.items():
        assert entry.header and entry.help and entry.kind in {"r", "p", "share", "count", "number", "seconds", "text",
                                                               "accuracy"}, name
        assert not re.search(r"[a-z]_[a-z]", entry.header), name  # a header is words, not a column name
