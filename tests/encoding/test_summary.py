"""Encoding tables: per band and per atlas network, on scores with a planted answer."""

import numpy as np
import pytest

from syncact.encoding import EncodingScores
from syncact.encoding.summary import band_table, network_table
from syncact.exceptions import ShapeError


def _scores(r, split, p):
    return EncodingScores(["early", "late"], [0, 1], np.tile(r, (2, 1)), np.tile(r**2, (2, 1)),
                          np.tile(split, (2, 1, 1)), "dual", np.tile(p, (2, 1)))


def test_band_and_network_tables_count_what_was_planted():
    """Voxels 0-5 in network "visual" are predicted and won by "early"; 6-9 in "default" are not predicted."""
    r = np.array([0.5] * 6 + [0.02] * 4)
    split = np.zeros((2, 10))
    split[0, :6], split[1, 6:] = 0.2, 0.01
    p = np.array([0.01] * 6 + [0.5] * 4)
    scores = _scores(r, split, p)
    ceiling = np.full(10, 0.8)
    null = _scores(np.zeros(10), split, np.array([0.01] + [0.5] * 9))
    bands = band_table(scores, ceiling, null)
    assert list(bands["band"]) == ["early", "late"]
    assert bands["share_significant"].tolist() == [0.6, 0.6] and bands["false_positive_rate"].tolist() == [0.1, 0.1]
    assert bands["share_won"].tolist() == [1.0, 0.0] and bands["median_ceiled_r"].iloc[0] == pytest.approx(0.625)
    networks = np.array(["visual"] * 6 + ["default"] * 3 + [""])
    table = network_table(scores, ceiling, networks).set_index("network")
    assert list(table.index) == ["default", "visual"] and table.loc["default", "n_voxels"] == 3
    assert table.loc["visual", "best_band"] == "early" and table.loc["visual", "share_won_early"] == 1.0
    assert table.loc["default", "best_band"] == "" and table.loc["default", "share_significant"] == 0.0
    assert table.loc["visual", "median_ceiled_r"] == pytest.approx(0.625)
    with pytest.raises(ShapeError, match="3 values for 10"):
        network_table(scores, ceiling, networks[:3])
