"""Semantic agreement with the real offline sentence model (all-MiniLM-L6-v2 from PyPI)."""

import numpy as np
import pandas as pd
import pytest

from syncact.annotate import agreement, description_text, sentence_encoder
from syncact.exceptions import ConfigError, DataError

PAIRS = [  # (FBN side, filter side) that a reader would call matched
    ("Auditory network; superior temporal gyrus; hearing", "loudspeaker; acoustic guitar; drum"),
    ("Visual network; occipital cortex", "bright colourful picture; edges and texture"),
    ("face recognition; fusiform gyrus", "human face; portrait; person"),
    ("motor network; hand movement; precentral gyrus", "hand; fingers; grasping tool"),
    ("place; navigation; parahippocampal gyrus", "mountain landscape; valley; street scene"),
    ("reward; food; ventral striatum", "pizza; ice cream; plate of food"),
    ("reading; language; word forms", "book jacket; menu; written text"),
    ("motion; MT+; moving objects", "running animal; racing car; motion"),
]


@pytest.fixture(scope="module")
def encoder():
    return sentence_encoder()


def test_true_pairs_agree_more_than_shuffled_ones(encoder):
    fbn, filt = zip(*PAIRS, strict=True)
    result = agreement(fbn, filt, encoder=encoder, n_perm=2000)
    assert result.mean > result.mean_null + 0.1 and result.p_mean < 0.01
    assert (result.pairs["p_agreement"] <= 0.5).mean() >= 0.75
    emb_a, emb_b = encoder(list(fbn)), encoder(list(filt))
    np.testing.assert_allclose(result.pairs["agreement"], np.sum(emb_a * emb_b, axis=1), atol=1e-6)
    sim = emb_a @ emb_b.T  # p of a pair: its FBN's own filter against the 7 others
    k = 2
    assert result.pairs.loc[k, "p_agreement"] == pytest.approx((1 + (sim[k] >= sim[k, k] - 1e-12).sum() - 1) / 8)


def test_missing_descriptions_are_left_out(encoder):
    fbn = ["Visual network", "", "Auditory network", "motor network"]
    filt = ["picture", "guitar", "", "hand"]
    result = agreement(fbn, filt, encoder=encoder, n_perm=50)
    assert result.pairs["agreement"].isna().tolist() == [False, True, True, False]
    with pytest.raises(DataError, match="only 1 of 2 pairs"):
        agreement(["a", ""], ["b", "c"], encoder=encoder)
    with pytest.raises(ConfigError, match="one of each per pair"):
        agreement(["a"], ["b", "c"], encoder=encoder)


def test_description_text_joins_the_best_terms_of_each_source():
    table = pd.DataFrame({"unit": ["FBN-01"] * 4 + ["FBN-02"], "source": ["atlas", "atlas", "atlas", "terms", "atlas"],
                          "rank": [1, 2, 3, 1, 1], "term": ["visual", "occipital", "cuneus", "faces", "motor"],
                          "score": 1.0})
    assert description_text(table, "FBN-01") == "visual; faces; occipital"
    assert description_text(table, "FBN-03") == ""
