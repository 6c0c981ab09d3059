"""compare_methods on planted data: every method x K through the same pairing, with recovery."""

import numpy as np
import pandas as pd

from syncact.analysis import GroundTruth, compare_methods


def test_compare_methods_tabulates_every_fit_and_finds_the_driven_network(rng):
    n_v, t = 300, 80
    maps = np.zeros((2, n_v))
    maps[0, :40], maps[1, 150:190] = 1.0, 1.0
    driver = {run: rng.normal(size=t) for run in ("1", "2")}
    runs = {run: [] for run in driver}
    for run in driver:
        for _ in range(4):
            x = np.column_stack([driver[run], rng.normal(size=t)]) @ (3 * maps) + rng.normal(size=(t, n_v))
            runs[run].append(((x - x.mean(0)) / x.std(0)).astype(np.float32))
    train = runs["1"][:3] + runs["2"][:3]
    test = {run: r[3:] for run, r in runs.items()}
    filters = {("m", "random", "layer", run): np.column_stack([driver[run], rng.normal(size=(t, 9))]) for run in driver}
    truth = GroundTruth(pd.DataFrame({"name": ["a", "b"], "kind": ["stimulus", "spontaneous"], "driver": ["x", ""]}),
                        maps, {run: pd.DataFrame({"a_bold": driver[run]}) for run in driver})
    seen = []
    result = compare_methods(train, None, test, filters, methods=["pca", "lt"], n_networks=[2, 3],
                             params={"n_epochs": 60, "seed": 0, "n_components": 8}, pairing={"alpha": 0.05},
                             truth=truth, on_fit=lambda m, k, model: seen.append((m, k)))
    assert seen == [("pca", 2), ("pca", 3), ("lt", 2), ("lt", 3)]
    assert len(result.fits) == 4 and set(result.models) == set(seen)
    sweep = result.k_sweep
    assert len(sweep) == 4 * 2  # every fit x every filter set (one per run)
    # the driven network's FBN pairs with the filter that drives it (filter 0) in every fit
    scores = result.scores
    driven = scores.loc[scores["pcc"].groupby([scores["method"], scores["n_networks"], scores["run"]]).idxmax()]
    assert (driven["filter_index"] == 0).all() and driven["pcc"].min() > 0.6  # chance: ~0.2 (best of 10 noise filters)
    recovery = result.recovery
    assert recovery is not None and len(recovery) == 4 * 2  # every fit x every planted network
    assert recovery.loc[recovery["method"] == "pca", "spatial_r"].min() > 0.7  # PCA's maps hold the two blocks
