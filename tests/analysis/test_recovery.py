"""Recovery of planted truth, checked on maps and time courses built by hand."""

import numpy as np
import pandas as pd
import pytest

from syncact.analysis import fbn_roles, recovery_table
from syncact.analysis.recovery import span_correlation


@pytest.fixture
def planted(rng):
    maps = rng.normal(size=(3, 400))
    bold = {run: pd.DataFrame({"a_bold": rng.normal(size=60)}) for run in ("1", "2")}
    networks = pd.DataFrame({"name": ["a", "b", "c"], "kind": ["stimulus", "spontaneous", "spontaneous"],
                             "driver": ["luminance", "", ""]})
    return networks, maps, bold


def test_recovery_finds_each_planted_map_and_time_course(planted, rng):
    networks, maps, bold = planted
    fbn_maps = np.vstack([maps[2], rng.normal(size=400), 2 * maps[0] + 0.1 * rng.normal(size=400), maps[1]])
    acts = {run: np.column_stack([rng.normal(size=60), b["a_bold"] + 0.05 * rng.normal(size=60), rng.normal(size=60),
                                  rng.normal(size=60)]) for run, b in bold.items()}
    table = recovery_table(networks, maps, fbn_maps, bold, acts)
    assert table["spatial_fbn"].tolist() == [2, 3, 0]
    assert table["spatial_r"].min() > 0.99 and table["span_r"].min() > 0.99
    assert table.loc[0, "temporal_fbn"] == 1 and table.loc[0, "temporal_r_run-1"] > 0.99
    assert table.loc[1:, "temporal_fbn"].tolist() == [-1, -1]  # spontaneous: no temporal match
    roles = fbn_roles(bold, acts)
    assert roles.loc[1, "role"] == "driven" and roles.loc[1, "network"] == "a"
    assert set(roles.loc[[0, 2, 3], "role"]) <= {"unrelated", "mixed"}


def test_span_correlation_is_the_multiple_correlation(rng):
    basis = rng.normal(size=(3, 500))
    mixed = np.array([[0.5, -1.0, 2.0]]) @ basis
    np.testing.assert_allclose(span_correlation(mixed, basis), 1.0, atol=1e-12)  # inside the span: 1
    target = mixed + rng.normal(size=(1, 500))
    # reference: R of an ordinary least-squares fit with an intercept, from numpy's solver
    design = np.column_stack([basis.T, np.ones(500)])
    fitted = design @ np.linalg.lstsq(design, target[0], rcond=None)[0]
    assert span_correlation(target, basis)[0] == pytest.approx(np.corrcoef(fitted, target[0])[0, 1], abs=1e-12)
    # the best single map can be far below the span: a mixture of maps has no single match
    single = np.abs(np.corrcoef(np.vstack([mixed, basis]))[0, 1:]).max()
    assert single < 0.9 < span_correlation(mixed, basis)[0]
