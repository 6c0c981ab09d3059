import numpy as np
import pytest
from dtaidistance import dtw

from syncact.analysis import ablation_table, match_networks, paired_scores
from syncact.exceptions import ShapeError


def test_paired_scores_against_direct_formulas(rng):
    b = rng.normal(size=(50, 3))
    a = rng.normal(size=(50, 6)) * 5 + 2
    idx = np.array([4, 0, 4])
    s = paired_scores(b, a, idx)
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    for k, f in enumerate(idx):
        x, y = z(b[:, k]), z(a[:, f])
        assert s.loc[k, "pcc"] == pytest.approx(np.corrcoef(b[:, k], a[:, f])[0, 1], abs=1e-12)
        assert s.loc[k, "mae"] == pytest.approx(np.abs(x - y).mean())
        assert s.loc[k, "rmse"] == pytest.approx(np.sqrt(((x - y) ** 2).mean()))
        assert s.loc[k, "dtw"] == pytest.approx(dtw.distance(x, y))  # the C implementation equals the Python one
        assert s.loc[k, "mse"] == pytest.approx(2 * (1 - s.loc[k, "pcc"]))
    mm = paired_scores(b, a, idx, normalize="minmax")
    assert (mm[["mae", "rmse"]] <= 1).all().all() and mm["pcc"].equals(s["pcc"])
    table = ablation_table(s.assign(method="lt"))
    assert table.loc[0, "pcc"] == pytest.approx(s["pcc"].mean())
    with pytest.raises(ShapeError, match="one filter column"):
        paired_scores(b, a, np.array([0, 1]))
    with pytest.raises(ShapeError, match="one length"):
        paired_scores(b, a[:40], idx)


def test_hungarian_matching_undoes_a_permutation(rng):
    maps = rng.normal(size=(6, 300))
    perm = rng.permutation(6)
    m = match_networks(maps, maps[perm] + 0.01 * rng.normal(size=(6, 300)))
    np.testing.assert_array_equal(perm[m.index_b], m.index_a)
    assert m.mean_r > 0.99
    # fewer networks on one side: min(K_a, K_b) matched, one-to-one
    m = match_networks(maps, maps[[5, 2]])
    assert list(m.index_a) == [2, 5] and list(m.index_b) == [1, 0]
    assert list(m.to_frame("k6", "k2").columns) == ["fbn_k6", "fbn_k2", "spatial_r"]
    with pytest.raises(ShapeError, match="same mask"):
        match_networks(maps, maps[:, :10])


def test_empty_maps_match_nothing_and_lose_in_recovery(rng):
    import pandas as pd

    from syncact.analysis import recovery_table

    maps = rng.normal(size=(3, 200))
    fbn = np.vstack([maps[1], np.zeros(200), maps[0]])  # an empty network, as sparse methods can return
    m = match_networks(maps, fbn)
    assert np.isnan(m.r).sum() == 1 and m.mean_r == pytest.approx(1.0)
    networks = pd.DataFrame({"name": ["a", "b", "c"], "kind": ["spontaneous"] * 3, "driver": [""] * 3})
    table = recovery_table(networks, maps, fbn, {}, {})
    assert list(table["spatial_fbn"][:2]) == [2, 0] and table["spatial_r"][0] == pytest.approx(1.0)
