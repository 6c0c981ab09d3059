"""ISC against BrainIAK, and the noise ceiling against simulations with a known shared variance."""

import numpy as np
import pytest

from syncact.encoding import ceiled, isc, jackknife_ceiled, noise_ceiling, shared_variance
from syncact.encoding.features import zscore
from syncact.exceptions import DataError, ShapeError


def _subjects(rng, rho, n=8, t=600):
    s = rng.standard_normal((t, rho.size))
    return np.sqrt(rho) * s + np.sqrt(1 - rho) * rng.standard_normal((n, t, rho.size)), s


def test_isc_equals_brainiak_leave_one_out(rng):
    brainiak_isc = pytest.importorskip("brainiak.isc").isc
    data, _ = _subjects(rng, np.linspace(0.05, 0.9, 40))
    np.testing.assert_allclose(isc(data), brainiak_isc(data.transpose(1, 2, 0)), atol=1e-8)


def test_the_ceiling_is_what_a_perfect_model_reaches(rng):
    """On simulated subjects with shared variance rho: rho comes back from the ISC, and the true signal's
    correlation with one subject and with the mean of 3 subjects is the ceiling."""
    rho = np.linspace(0.05, 0.8, 60)
    data, signal = _subjects(rng, rho, n=10, t=2000)
    loo = isc(data).mean(axis=0)
    assert np.abs(shared_variance(loo, 10) - rho).max() < 0.06
    one = np.array([np.corrcoef(signal[:, v], data[0, :, v])[0, 1] for v in range(rho.size)])
    three = np.array([np.corrcoef(signal[:, v], data[:3, :, v].mean(0))[0, 1] for v in range(rho.size)])
    assert np.abs(noise_ceiling(loo, 10) - one).max() < 0.06
    assert np.abs(noise_ceiling(loo, 10, n_average=3) - three).max() < 0.06
    assert (noise_ceiling(loo, 10, n_average=3) > noise_ceiling(loo, 10)).all()  # averaging raises the ceiling


def test_ceiled_scores_are_clipped_and_undefined_without_signal():
    np.testing.assert_allclose(ceiled(np.array([0.2, 0.5, -0.1, 0.3]), np.array([0.4, 0.4, 0.4, 0.0])),
                               [0.5, 1.0, 0.0, np.nan])
    assert noise_ceiling(np.array([-0.2, 0.0]), 5).tolist() == [0.0, 0.0]


def test_bad_inputs_are_named():
    with pytest.raises(ShapeError, match="n_subjects, n_timepoints, n_targets"):
        isc(np.zeros((3, 10)))
    with pytest.raises(DataError, match="at least 2 subjects"):
        isc(np.zeros((1, 10, 2)))
    with pytest.raises(DataError, match="NaN"):
        isc(np.full((2, 10, 2), np.nan))
    with pytest.raises(DataError, match="n_average"):
        noise_ceiling(np.array([0.5]), 4, n_average=0)


def test_jackknife_ceiled_scores_and_their_interval_cover_the_planted_value(rng):
    """Predictions correlated 0.5 and 1.0 with the shared signal: the ceiled score of the subjects' mean comes back
    (its value is ceiled(r, ceiling) exactly), and the jackknife interval over subjects covers it."""
    rho = np.full(30, 0.3)
    runs = [_subjects(rng, rho, n=8, t=400) for _ in range(2)]
    data = [d for d, _ in runs]
    half = [0.5 * s + np.sqrt(0.75) * rng.standard_normal(s.shape) for _, s in runs]  # corr(p, s) = 0.5
    out = jackknife_ceiled(half, data)
    direct_r = np.mean([(zscore(p) * zscore(d.mean(0))).mean(0) for p, d in zip(half, data, strict=True)], axis=0)
    np.testing.assert_allclose(out.r, direct_r)
    np.testing.assert_allclose(out.value, ceiled(out.r, out.ceiling))
    assert abs(np.median(out.value) - 0.5) < 0.05
    assert ((out.low <= 0.5) & (0.5 <= out.high)).mean() >= 0.8 and (out.low <= out.value).all()
    perfect = jackknife_ceiled([s for _, s in runs], data)
    assert np.median(perfect.value) > 0.95 and (perfect.high == 1).mean() > 0.5
    few = jackknife_ceiled([p[:, :3] for p in half], [d[:2, :, :3] for d in data])  # 2 subjects: no interval
    assert np.isnan(few.low).all() and np.isfinite(few.value).all()
    with pytest.raises(ShapeError, match="must match"):
        jackknife_ceiled([half[0][:10]], [data[0]])
