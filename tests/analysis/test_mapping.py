"""Mapping recovery and overlap from searchlight maps with known significance."""

import numpy as np
import pytest

from syncact.analysis import layer_mapping, overlap_summary
from syncact.exceptions import ShapeError
from syncact.rsa import SearchlightMaps


def _maps(similarity, p_fwe):
    n = similarity.shape[1]
    return SearchlightMaps(["a", "b"], similarity, p_fwe, p_fwe, np.zeros((2, 10)), np.arange(n), n, "spearman",
                           "correlation", 10)


def test_layer_mapping_counts_winners_and_precision():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
    sim = np.array([[0.5, 0.5, 0.5, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.0],
                    [0.1, 0.6, 0.1, 0.1, 0.4, 0.4, 0.4, 0.1, 0.0, 0.0]])
    p = np.where(sim >= 0.3, 0.01, 0.5)
    table = layer_mapping(_maps(sim, p), labels, [("r0", "a"), ("r1", "b")])
    r0, r1 = table.iloc[0], table.iloc[1]
    assert r0["n_spheres"] == 4 and r0["share_own_significant"] == 0.75
    assert r0["share_winner"] == 0.5  # sphere 1 is won by b (0.6 > 0.5)
    assert r0["precision"] == pytest.approx(3 / 4)  # a is also significant at sphere 8, outside
    assert r1["share_winner"] == 0.75 and r1["top_winner"] == "b"
    assert r1["precision"] == pytest.approx(3 / 4)  # b is significant at sphere 1 too, in r0
    summary = overlap_summary(_maps(sim, p))
    assert summary["n_significant_a"] == 4 and summary["n_significant_b"] == 4
    assert summary["mean_dice"] == pytest.approx(2 * 1 / 8)
    with pytest.raises(ShapeError):
        layer_mapping(_maps(sim, p), labels[:5], [("r0", "a")])
