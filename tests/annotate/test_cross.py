import pandas as pd

from syncact.annotate import cross_annotate, describe_filters
from syncact.annotate.fbns import COLUMNS


def _rows(unit, source, terms):
    return [{"unit": unit, "source": source, "rank": i + 1, "term": t, "score": 1.0} for i, t in enumerate(terms)]


def test_texts_follow_the_pairs_and_the_chosen_sources():
    fbns = pd.DataFrame(_rows("FBN-00", "atlas:network", ["Visual network"]) + _rows("FBN-00", "terms", ["faces"])
                        + _rows("FBN-01", "atlas:network", ["Auditory network"]), columns=COLUMNS)
    filters = {("m", "imagenet", "l"): pd.DataFrame(_rows("filter-3", "imagenet classes", ["portrait", "person", "x"]),
                                                   columns=COLUMNS)}
    eq2 = pd.DataFrame({"fbn": ["FBN-00", "FBN-01"], "filter": ["filter-3", "filter-9"]})
    result = cross_annotate(fbns, filters, {("m", "imagenet", "l", "1"): eq2})
    assert result.pairs["fbn_text"].tolist() == ["Visual network; faces", "Auditory network"]
    assert result.pairs["filter_text"].tolist() == ["portrait; person", ""]
    assert "agreement" not in result.pairs and result.summary.empty  # no encoder, no score
    only_terms = cross_annotate(fbns, filters, {("m", "imagenet", "l", "1"): eq2}, fbn_sources=["terms"])
    assert only_terms.pairs["fbn_text"].tolist() == ["faces", ""]


def test_describe_filters_without_any_source_is_empty(rng):
    table = describe_filters(rng.normal(size=(10, 2)), ["filter-0", "filter-1"])
    assert table.empty and list(table.columns) == COLUMNS
