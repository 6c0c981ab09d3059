"""The residual method: residuals are orthogonal to the other layers' RDMs and R^2 matches least squares."""

import numpy as np
import pytest

from syncact.exceptions import ShapeError
from syncact.rsa import LayerRDMs, layer_rdms, residual_rdms, residualize


def test_residual_is_orthogonal_to_the_other_layers(rng):
    base = rng.normal(size=(12, 40))
    rdms = layer_rdms({"a": base, "b": base + 0.3 * rng.normal(size=base.shape), "c": rng.normal(size=(12, 40))})
    res = residual_rdms(rdms)
    for i in range(3):
        others = np.delete(rdms.vectors, i, axis=0)
        centred = others - others.mean(axis=1, keepdims=True)
        np.testing.assert_allclose(centred @ res.vectors[i], 0, atol=1e-9)
        assert abs(res.vectors[i].mean()) < 1e-12
    # the two correlated layers explain each other
    assert res.r_squared[0] > 0.5 and res.r_squared[2] < 0.2
    # a region that carries layer b's RDM does not correlate with layer a's fingerprint
    from syncact.rsa import compare_rdms

    cross = compare_rdms(res.vectors, rdms.vectors, "pearson")
    assert np.abs(cross[~np.eye(3, dtype=bool)]).max() < 1e-9
    # residuals of two layers correlate as minus their partial correlation (here: minus their correlation)
    assert res.similarity()[0, 1] < 0
    assert res.metric == "residual-correlation" and res.source is rdms


def test_r_squared_equals_linear_regression(rng):
    from sklearn.linear_model import LinearRegression

    target, others = rng.normal(size=45), rng.normal(size=(2, 45))
    residual, r2 = residualize(target, others)
    fit = LinearRegression().fit(others.T, target)
    assert r2 == pytest.approx(fit.score(others.T, target), abs=1e-10)
    np.testing.assert_allclose(residual, target - fit.predict(others.T), atol=1e-10)


def test_a_layer_the_others_explain_has_no_residual(rng):
    a, b = rng.normal(size=28), rng.normal(size=28)
    rdms = LayerRDMs(["a", "b", "sum"], np.stack([a, b, 2 * a - b + 1]), "correlation")
    res = residual_rdms(rdms)
    assert res.r_squared[2] == pytest.approx(1.0) and np.abs(res.vectors[2]).max() < 1e-9


def test_needs_two_layers_and_enough_pairs(rng):
    with pytest.raises(ShapeError, match="two layers"):
        residual_rdms(LayerRDMs(["a"], rng.normal(size=(1, 10)), "correlation"))
    with pytest.raises(ShapeError, match="more images"):
        residualize(rng.normal(size=3), rng.normal(size=(3, 3)))
