"""Quoted numbers: the value is the table's, the text its rounding, the link carries what recomputes it."""

import html
import json
import re

import pandas as pd
import pytest

from syncact.report import quote, quote_html, sentence_html
from syncact.report.quotes import select

SUMMARY = pd.DataFrame({"model": ["a", "a", "b"], "layer": ["l1", "l2", "l1"], "run": [1, 2, 1],
                        "mean_pcc": [0.3, 0.5, 0.4], "n_significant_shift": [3, 5, 1], "mean_significant": [True, False, True]})


@pytest.mark.parametrize(("aggregate", "where", "value", "text"), [
    ("max", {}, 0.5, "0.500"), ("min", {}, 0.3, "0.300"), ("mean", {"model": "a"}, 0.4, "0.400"),
    ("median", {}, 0.4, "0.400"), ("value", {"model": "b", "layer": "l1"}, 0.4, "0.400"),
])
def test_quotes_reduce_the_selected_rows(aggregate, where, value, text):
    q = quote({"summary": SUMMARY}, "summary", "mean_pcc", aggregate, **where)
    assert q.value == pytest.approx(value) and q.text == text and q.kind == "r" and q.anchor == "t-summary"


def test_sums_are_counts_and_booleans_count_and_rows_compare_as_text():
    tables = {"summary": SUMMARY}
    assert quote(tables, "summary", "n_significant_shift", "sum").text == "9"
    assert quote(tables, "summary", "mean_significant", "sum").text == "2"
    assert len(select(SUMMARY, {"run": "1"})) == 2 and len(select(SUMMARY, {"run": 1})) == 2  # CSV round trips
    with pytest.raises(KeyError, match="no row of summary"):
        quote(tables, "summary", "mean_pcc", model="zzz")


def test_the_link_carries_what_recomputes_the_number():
    q = quote({"summary": SUMMARY}, "summary", "mean_pcc", "value", model="a", run=2)
    link = quote_html(q)
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', link))
    assert attrs["table"] == "summary" and attrs["column"] == "mean_pcc" and attrs["aggregate"] == "value"
    assert json.loads(html.unescape(attrs["where"])) == {"model": "a", "run": 2} and float(attrs["value"]) == 0.5
    assert 'href="#t-summary"' in link and link.endswith(">0.500</a>")
    assert sentence_html(["<b>", q, " & more"]) == "&lt;b&gt;" + link + " &amp; more"
