import numpy as np
import pandas as pd
import pytest
from scipy import stats

from syncact.exceptions import ConfigError, UnknownNameError
from syncact.simulate.bold import ar1
from syncact.sync import hrf_convolve, pair


def _smooth(rng, n, k, phi=0.9):
    return ar1(rng, n, k, phi).astype(np.float64)


def test_eq1_eq2_pairs_and_planted_partners(rng):
    n = 300
    filters = _smooth(rng, n, 50)
    fbns = _smooth(rng, n, 5) * 0.5
    fbns[:, 0] += filters[:, 7]
    fbns[:, 3] += filters[:, 21]
    p = pair(fbns, filters)
    assert p.eq2.loc[0, "filter_index"] == 7 and p.eq2.loc[3, "filter_index"] == 21
    assert p.eq1.loc[7, "fbn_index"] == 0 and p.eq1.loc[21, "fbn_index"] == 3
    assert p.r.shape == (5, 50)
    assert p.eq2.loc[0, "p_shift"] < 0.01 and p.eq2.loc[3, "p_shift"] < 0.01
    assert p.mean_pcc == pytest.approx(p.eq2["pcc"].mean())
    # p_naive is exactly scipy's pearsonr p-value of the chosen pair, for the same alternative
    expected = stats.pearsonr(fbns[:, 0], filters[:, 7], alternative="greater")[1]
    assert p.eq2.loc[0, "p_naive"] == pytest.approx(expected, rel=1e-6)
    assert p.params["alternative"] == "greater"


def test_every_test_answers_the_same_alternative(rng):
    """A strongly anti-correlated partner: one-sided ("greater", the default) tests find no positive pair for
    it, two-sided ones pick it by |r| and call it significant, all tests of decisions() agreeing."""
    n = 300
    filters = _smooth(rng, n, 30)
    fbn = -filters[:, [5]] + 0.3 * _smooth(rng, n, 1)
    greater, both = pair(fbn, filters), pair(fbn, filters, alternative="two-sided")
    assert greater.eq2.loc[0, "filter_index"] != 5 and greater.eq2.loc[0, "pcc"] > 0
    # the selection-corrected tests find no positive coupling (naive and edf ignore the pick of the best of 30)
    assert not greater.decisions().loc["FBN-0", ["shift", "fdr_shift"]].any()
    row = both.eq2.iloc[0]
    assert row["filter_index"] == 5 and row["pcc"] < -0.9
    assert row["p_naive"] == pytest.approx(stats.pearsonr(fbn[:, 0], filters[:, 5])[1], rel=1e-6)
    assert both.decisions().loc["FBN-0"].all()
    with pytest.raises(UnknownNameError, match="alternative='less'"):
        pair(fbn, filters, alternative="less")
    for alpha in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match="alpha must"):
            pair(fbn, filters, alpha=alpha)


def test_runs_shorter_than_the_calibrated_lengths_are_flagged(rng):
    filters = _smooth(rng, 100, 10)
    with pytest.warns(RuntimeWarning, match="100 time points.*untested"):
        pair(_smooth(rng, 100, 2), filters)


def test_shift_test_is_calibrated_on_null_data_and_naive_is_not():
    """Independent autocorrelated series: the max-statistic shift test keeps its level, the naive one drifts."""
    rng = np.random.default_rng(0)
    n_sim, alpha = 300, 0.05
    hits_shift = hits_naive = 0
    for _ in range(n_sim):
        filters = _smooth(rng, 150, 40)
        fbn = _smooth(rng, 150, 1)
        row = pair(fbn, filters).eq2.iloc[0]
        hits_shift += row["p_shift"] < alpha
        hits_naive += row["p_naive"] < alpha
    fpr_shift, fpr_naive = hits_shift / n_sim, hits_naive / n_sim
    assert 0.02 <= fpr_shift <= 0.09, fpr_shift
    assert fpr_naive > 0.5, fpr_naive


def test_power_on_a_weak_planted_pair(rng):
    found = 0
    for _ in range(40):
        filters = _smooth(rng, 200, 30)
        fbn = filters[:, [4]] + _smooth(rng, 200, 1)  # r about 0.7, few effective samples
        found += pair(fbn, filters).eq2.loc[0, "p_shift"] < 0.05
    assert found / 40 > 0.8


def test_hrf_option_recovers_a_lagged_partner(rng):
    n, tr = 240, 1.0
    filters = rng.normal(size=(n, 20))
    fbn = hrf_convolve(filters[:, [2]], tr) + 0.02 * rng.normal(size=(n, 1))
    without = pair(fbn, filters).eq2.iloc[0]
    with_hrf = pair(fbn, filters, hrf="glover", tr=tr).eq2.iloc[0]
    assert with_hrf["filter_index"] == 2 and with_hrf["pcc"] > 0.9
    assert with_hrf["pcc"] > without["pcc"]
    with pytest.raises(ConfigError, match="needs the repetition time"):
        pair(fbn, filters, hrf="glover")


def test_bad_min_shift(rng):
    with pytest.raises(ConfigError, match="leaves no circular shift"):
        pair(rng.normal(size=(20, 2)), rng.normal(size=(20, 3)), min_shift=15)


def test_decisions_list_every_test_and_fdr_controls_the_family():
    """Complete null (no FBN linked to any filter), 120 datasets of 8 FBNs: per-FBN max-statistic tests keep
    their level, and BH across the 8 FBNs calls *any* pair significant in about alpha of the datasets."""
    rng = np.random.default_rng(5)
    per_fbn, any_fdr = [], []
    for i in range(120):
        p = pair(_smooth(rng, 150, 8, 0.8), _smooth(rng, 150, 30, 0.8), n_phase=99, seed=i)
        calls = p.decisions()
        per_fbn.append(calls.mean())
        any_fdr.append(calls[["fdr_shift", "fdr_phase"]].any())
    rates, family = pd.DataFrame(per_fbn).mean(), pd.DataFrame(any_fdr).mean()
    assert list(calls.columns) == ["naive", "edf", "shift", "fdr_shift", "phase", "fdr_phase"]
    assert list(calls.index) == [f"FBN-{k}" for k in range(8)]
    assert 0.02 <= rates["shift"] <= 0.09 and 0.02 <= rates["phase"] <= 0.09, rates
    assert rates["naive"] > 0.5, rates  # the best of 30 smooth filters, tested as if it were the only one
    assert family["fdr_shift"] <= 0.1 and family["fdr_phase"] <= 0.1, family
    assert (p.eq2["q_phase"] >= p.eq2["p_phase"] - 1e-12).all()
    summary = p.summary()
    assert summary["n_significant_phase"] == calls["phase"].sum() and summary["mean_p_phase"] == p.params["mean_p_phase"]
    assert not pair(_smooth(rng, 150, 2), _smooth(rng, 150, 5)).decisions().columns.isin(["phase"]).any()


def test_eq1_mean_is_tested_like_the_eq2_mean(rng):
    filters = _smooth(rng, 200, 40)
    linked = _smooth(rng, 200, 6) * 0.3
    linked[:, :6] += filters[:, :6]  # six filters drive six FBNs
    p = pair(linked, filters)
    s = p.summary()
    assert s["mean_p_shift_eq1"] == 1 / (1 + p.params["n_lags"]) and s["mean_significant_eq1"] and s["n_filters"] == 40
    assert s["n_significant_eq1"] >= 6
    null_rate = np.mean([pair(_smooth(rng, 200, 6, 0.5), _smooth(rng, 200, 40, 0.5)).summary()["mean_significant_eq1"]
                         for _ in range(60)])
    assert null_rate <= 0.12, null_rate


def test_as_paired_is_what_pair_correlates():
    from syncact.sync import as_paired

    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 4)).astype(np.float32)
    assert as_paired(x).dtype == np.float64
    np.testing.assert_array_equal(as_paired(x), x.astype(np.float64))
    np.testing.assert_allclose(as_paired(x, hrf="spm", tr=2.0), hrf_convolve(x, 2.0, "spm"))
    with pytest.raises(ConfigError, match="needs the repetition time"):
        as_paired(x, hrf="glover")
    with pytest.raises(UnknownNameError, match="hrf='boxcar' is not known"):
        as_paired(x, hrf="boxcar", tr=1.0)
    # pair's Eq.2 r is the correlation with the convolved filter
    fbn = rng.normal(size=(80, 2))
    p = pair(fbn, x, hrf="glover", tr=1.0)
    best = p.eq2["filter_index"].to_numpy()
    r = [np.corrcoef(fbn[:, k], as_paired(x, hrf="glover", tr=1.0)[:, best[k]])[0, 1] for k in range(2)]
    np.testing.assert_allclose(p.eq2["pcc"], r, atol=1e-10)


def test_fdr_option_adjusts_q_values_and_reaches_a_run_through_the_config():
    from syncact.config import PairingConfig
    from syncact.experiment.units import pair_unit

    rng = np.random.default_rng(4)
    fbn, filters = rng.normal(size=(120, 6)), rng.normal(size=(120, 30))
    fbn[:, :3] += 0.8 * filters[:, :3]
    bh, by = pair(fbn, filters), pair(fbn, filters, fdr="by")
    np.testing.assert_array_equal(bh.eq2["p_shift"], by.eq2["p_shift"])  # the tests are the same, their adjustment not
    np.testing.assert_allclose(by.eq2["q_shift"], stats.false_discovery_control(by.eq2["p_shift"], method="by"))
    assert (by.eq2["q_shift"] >= bh.eq2["q_shift"]).all() and by.params["fdr"] == "by"
    with pytest.raises(UnknownNameError, match="fdr='holm' is not known"):
        pair(fbn, filters, fdr="holm")
    # a new [pairing] field reaches the main pairing of a run with no change to the experiment package
    result, _ = pair_unit(fbn, [f"FBN-{k}" for k in range(6)], filters, [f"filter-{j}" for j in range(30)],
                          np.stack([fbn, fbn, fbn]), filters[::-1].copy(), "2", PairingConfig(fdr="by"), seed=0, tr=1.0)
    np.testing.assert_allclose(result.eq2["q_shift"], by.eq2["q_shift"])


def test_layers_with_many_filters_are_warned_with_the_measured_rate():
    import warnings

    rng = np.random.default_rng(2)
    fbn = rng.normal(size=(160, 2))
    with pytest.warns(RuntimeWarning, match=r"1001 filters: .* measured a per-pair false-positive rate of 0.061"):
        pair(fbn, rng.normal(size=(160, 1001)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 160 time points and 1,000 filters: inside what was measured, no warning
        pair(fbn, rng.normal(size=(160, 1000)))
