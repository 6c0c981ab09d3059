"""Effective-degrees-of-freedom p-values: calibrated on independent autocorrelated series."""

import numpy as np
import pytest
from scipy import stats

from syncact.exceptions import ConfigError, DataError
from syncact.sync import pair
from syncact.sync.significance import autocorrelation, edf_p_value, effective_n


def _ar1(rng, n, m, phi):
    x = np.empty((n, m))
    x[0] = rng.normal(size=m)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=m)
    return x


def test_autocorrelation_matches_the_direct_estimator(rng):
    x = _ar1(rng, 200, 3, 0.7)
    acf = autocorrelation(x, 10)
    c = x - x.mean(0)
    direct = np.array([[np.sum(c[k:, j] * c[: len(c) - k, j]) / np.sum(c[:, j] ** 2) for j in range(3)]
                       for k in range(1, 11)])
    np.testing.assert_allclose(acf, direct, atol=1e-12)
    assert acf[0].mean() == pytest.approx(0.7, abs=0.1)


def test_white_noise_keeps_its_samples_and_edf_equals_pearsonr(rng):
    x, y = rng.normal(size=(500, 1)), rng.normal(size=(500, 1))
    n_eff = effective_n(autocorrelation(x, 100), autocorrelation(y, 100), 500)
    assert 400 < n_eff[0] <= 500
    r, p = stats.pearsonr(x[:, 0], y[:, 0])
    assert edf_p_value(np.array([r]), np.array([500.0]))[0] == pytest.approx(p, rel=1e-8)


def test_edf_p_value_is_calibrated_on_independent_ar1_pairs_and_naive_is_not():
    """2,000 pairs of independent AR(1) series (phi = 0.8, T = 200): false-positive rate at 0.05."""
    rng = np.random.default_rng(1)
    x, y = _ar1(rng, 200, 2000, 0.8), _ar1(rng, 200, 2000, 0.8)
    r = np.array([np.corrcoef(x[:, i], y[:, i])[0, 1] for i in range(2000)])
    n_eff = effective_n(autocorrelation(x, 40), autocorrelation(y, 40), 200)
    fpr_edf = np.mean(edf_p_value(r, n_eff) < 0.05)
    fpr_naive = np.mean(edf_p_value(r, np.full(2000, 200.0)) < 0.05)
    assert 0.03 <= fpr_edf <= 0.07, fpr_edf
    assert fpr_naive > 0.25, fpr_naive


def test_pairing_reports_n_eff_and_p_edf(rng):
    filters = _ar1(rng, 150, 10, 0.5)
    fbn = filters[:, [3]] + _ar1(rng, 150, 1, 0.5)
    p = pair(fbn, filters)
    row = p.eq2.iloc[0]
    assert row["filter_index"] == 3 and 3 <= row["n_eff"] <= 150 and row["p_edf"] >= row["p_naive"]
    assert {"n_eff", "p_edf"} <= set(p.eq1.columns)


def test_tidy_table_holds_both_directions(rng):
    p = pair(_ar1(rng, 100, 3, 0.5), _ar1(rng, 100, 7, 0.5))
    tidy = p.to_frame()
    assert len(tidy) == 3 + 7 and list(tidy.columns[:4]) == ["direction", "fbn", "filter", "pcc"]
    assert (tidy["direction"] == "eq2").sum() == 3 and tidy["p_shift"].notna().all()
    np.testing.assert_allclose(tidy.loc[tidy["direction"] == "eq1", "pcc"], p.eq1["pcc"])


def test_mutual_and_one_to_one_pairs(rng):
    filters = rng.normal(size=(120, 6))
    fbn = np.column_stack([filters[:, 2], filters[:, 2] + 0.8 * rng.normal(size=120), filters[:, 5]])
    fbn += 0.3 * rng.normal(size=fbn.shape)
    p = pair(fbn, filters)
    assert list(p.eq2["filter_index"]) == [2, 2, 5]
    assert list(p.mutual()["fbn"]) == ["FBN-0", "FBN-2"]  # FBN-1's filter prefers FBN-0
    one = p.one_to_one()
    assert one["filter_index"].is_unique and len(one) == 3
    assert one.loc[0, "filter_index"] == 2 and one.loc[2, "filter_index"] == 5
    assert p.summary()["n_mutual"] == 2


def test_phase_surrogates_keep_the_spectrum_and_the_cross_correlation(rng):
    from syncact.sync.pairing import phase_surrogates

    x = _ar1(rng, 128, 2, 0.7)
    x[:, 1] += x[:, 0]
    s = phase_surrogates(x, 5, np.random.default_rng(0))
    power = lambda v: np.abs(np.fft.rfft(v, axis=0)) ** 2  # noqa: E731
    np.testing.assert_allclose(power(s[3]), power(x), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(np.corrcoef(s[3].T)[0, 1], np.corrcoef(x.T)[0, 1], atol=1e-10)
    assert not np.allclose(s[3], x)


def test_phase_test_is_calibrated_with_selection_over_filters():
    """Null FBNs against 20 autocorrelated filters: the max-statistic phase test keeps its level."""
    rng = np.random.default_rng(2)
    hits = []
    for i in range(150):
        p = pair(_ar1(rng, 120, 1, 0.8), _ar1(rng, 120, 20, 0.8), n_phase=199, seed=i)
        hits.append(p.eq2.loc[0, "p_phase"] < 0.05)
    assert 0.01 <= np.mean(hits) <= 0.1, np.mean(hits)
    assert "mean_p_phase" in p.params


def test_jackknife_interval_covers_the_population_pcc():
    """Subjects = a population-mean activation + their own autocorrelated noise; the 90 % interval
    covers the PCC of the population mean with the filter near its level (32 subjects)."""
    from syncact.sync import subject_jackknife

    rng = np.random.default_rng(0)
    t = 150
    filt = _ar1(rng, t, 1, 0.5)[:, 0]
    population = filt + _ar1(rng, t, 1, 0.5)[:, 0]
    target = np.corrcoef(population, filt)[0, 1]
    filters = np.column_stack([rng.normal(size=t), filt])
    covered, naive_covered = [], []
    for _ in range(150):
        subjects = population[None, :, None] + 2.5 * _ar1(rng, t, 32, 0.5).T[:, :, None]
        table, (lo, hi) = subject_jackknife(subjects, filters, np.array([1]), level=0.9)
        row = table.iloc[0]
        covered.append(row["pcc_low"] <= target <= row["pcc_high"])
        naive_covered.append(row["pcc"] >= target)  # the test-mean PCC alone is biased low
        assert lo == pytest.approx(row["pcc_low"], abs=0.05)  # one FBN: mean PCC interval ~ the pair's
    # measured 0.82 at seed 0 for a nominal 0.90 (the leave-one-subject-out jackknife undercovers a little with
    # 32 subjects); 150 draws give a standard error of 0.03, so the bound sits 3 of them below
    assert 0.72 <= np.mean(covered) <= 0.97, np.mean(covered)
    assert np.mean(naive_covered) < 0.2
    with pytest.raises(ConfigError, match="at least 3 of them"):
        subject_jackknife(subjects[:2], filters, np.array([1]))


def test_lag_scan_finds_a_delayed_partner_and_leaves_pcc_alone(rng):
    filters = _ar1(rng, 300, 8, 0.3)
    fbn = np.zeros((300, 1))
    fbn[4:, 0] = filters[:-4, 6]  # the FBN follows filter 6 by 4 samples
    fbn += 0.3 * rng.normal(size=fbn.shape)
    plain = pair(fbn, filters)
    scanned = pair(fbn, filters, max_lag=8)
    np.testing.assert_array_equal(plain.eq2["pcc"], scanned.eq2["pcc"])
    row = scanned.eq2.iloc[0]
    assert row["filter_lag"] == "filter-6" and row["lag"] == 4 and row["pcc_lag"] > 0.9
    assert row["pcc"] < 0.3  # at lag 0 the partner is invisible
    with pytest.raises(ConfigError, match="max_lag=200 leaves too few"):
        pair(fbn, filters, max_lag=200)


def test_constant_series_are_named(rng):
    filters = rng.normal(size=(50, 5))
    filters[:, 3] = 1.0
    with pytest.raises(DataError, match=r"filter_activations has 1 constant column\(s\) with zero variance \(column 3\)"):
        pair(rng.normal(size=(50, 2)), filters)
    with pytest.raises(DataError, match=r"fbn_activations has 1 constant column.*\(column 0\)"):
        pair(np.column_stack([np.zeros(50), rng.normal(size=50)]), rng.normal(size=(50, 5)))
