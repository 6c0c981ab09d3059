"""Encoding: scikit-learn's Ridge as the reference, primal and dual agree, planted bands are found."""

import numpy as np
import pytest

from syncact.encoding import band_features, choose_solver, default_delays, delayed, fit_encoding
from syncact.exceptions import ConfigError, ShapeError


def test_delays_cover_the_haemodynamic_lag_and_shift_without_wrapping():
    assert default_delays(1.0) == [2, 3, 4, 5, 6, 7, 8] and default_delays(2.0) == [1, 2, 3, 4]
    assert default_delays(0.72) == list(range(3, 12))
    x = np.arange(10.0).reshape(5, 2)
    d = delayed(x, [0, 2])
    np.testing.assert_array_equal(d[:, :2], x)
    np.testing.assert_array_equal(d[:, 2:], np.vstack([np.zeros((2, 2)), x[:3]]))  # zeros before the start
    with pytest.raises(ConfigError, match="non-negative"):
        delayed(x, [-1])


def test_predictions_equal_scikit_learn_ridge_at_the_chosen_alpha(rng):
    """One band, one alpha: the held-out correlation of each fold is scikit-learn's Ridge(alpha)'s (1e-6)."""
    from sklearn.linear_model import Ridge

    runs = [rng.standard_normal((120, 15)) for _ in range(3)]
    w = rng.standard_normal((15, 6))
    targets = [x @ w + 2 * rng.standard_normal((120, 6)) for x in runs]
    bands = band_features({"layer": runs}, [0, 1])
    alpha = 30.0
    scores = fit_encoding(bands, targets, alphas=[alpha])
    assert scores.solver == "ridge"
    for held in range(3):
        train = [i for i in range(3) if i != held]
        x = np.concatenate([bands["layer"][i] for i in train])
        z = lambda y: (y - y.mean(0)) / y.std(0)  # noqa: E731 - targets are z-scored per run
        y = np.concatenate([z(targets[i]) for i in train])
        prediction = Ridge(alpha=alpha, fit_intercept=False).fit(x, y).predict(bands["layer"][held])
        truth = z(targets[held])
        expected = [np.corrcoef(prediction[:, v], truth[:, v])[0, 1] for v in range(6)]
        np.testing.assert_allclose(scores.r[held], expected, atol=1e-6)


def test_primal_and_dual_banded_ridge_agree_and_find_the_planted_band(rng):
    runs, t = 3, 200
    a = [rng.standard_normal((t, 10)) for _ in range(runs)]
    b = [rng.standard_normal((t, 12)) for _ in range(runs)]
    bands = band_features({"a": a, "b": b}, [0])
    wa, wb = rng.standard_normal((10, 20)), rng.standard_normal((12, 20))
    targets = []
    for i in range(runs):
        y = np.concatenate([a[i] @ wa, b[i] @ wb, np.zeros((t, 20))], axis=1)
        targets.append(y + 2.0 * y[:, :40].std() * rng.standard_normal(y.shape))
    kwargs = {"alphas": np.logspace(-1, 5, 7), "n_iter": 5, "chunk_size": 25}
    primal = fit_encoding(bands, targets, solver="primal", **kwargs)
    dual = fit_encoding(bands, targets, solver="dual", **kwargs)
    np.testing.assert_allclose(primal.r, dual.r, atol=1e-6)
    np.testing.assert_allclose(primal.r2_split.sum(axis=1), primal.r2, atol=1e-10)  # the split sums to R²
    winner = primal.winner(min_r=0.1)
    assert (winner[:20] == 0).mean() >= 0.9 and (winner[20:40] == 1).mean() >= 0.9
    assert (winner[40:] == -1).mean() >= 0.8 and abs(primal.mean_r[40:].mean()) < 0.05  # noise stays near 0
    assert choose_solver(22, 400, 2) == "primal" and choose_solver(5000, 400, 2) == "dual"
    assert choose_solver(300, 400, 2) == "dual"  # fewer features than samples, yet the dual is cheaper (benchmark)
    assert choose_solver(22, 400, 1) == "ridge" and choose_solver(5000, 400, 1) == "kernel-ridge"


def test_dual_form_equals_himalayas_multiple_kernel_ridge_cv_and_chunks_change_nothing(rng, tmp_path):
    """The dual form (one random search over every target, the refit done here per chosen candidate) predicts what
    himalaya's MultipleKernelRidgeCV fitted to all targets at once predicts, split by band too (1e-6); reading the
    targets in chunks from memory-mapped files gives the in-memory result; the scratch files are removed."""
    from himalaya.kernel_ridge import MultipleKernelRidgeCV
    from himalaya.scoring import r2_score_split

    from syncact.encoding.features import zscore
    from syncact.encoding.model import DEFAULT_ALPHAS
    from syncact.encoding.solvers import _inner_cv

    runs, t = 3, 90
    raw = {name: [rng.standard_normal((t, width)) for _ in range(runs)] for name, width in (("a", 30), ("b", 50))}
    bands = band_features(raw, [0, 1])  # 160 features > 90 x 2 / 2: the dual form
    w = {name: rng.standard_normal((2 * width, 14)) for name, width in (("a", 30), ("b", 50))}
    targets = [bands["a"][i] @ w["a"] * np.r_[np.ones(7), np.zeros(7)] + bands["b"][i] @ w["b"] * 0.3
               + 8 * rng.standard_normal((t, 14)) for i in range(runs)]
    whole = fit_encoding(bands, targets, n_iter=6, keep_predictions=True, chunk_size=64)
    chunked = fit_encoding(bands, targets, n_iter=6, keep_predictions=True, chunk_size=4, scratch_dir=str(tmp_path))
    assert whole.solver == chunked.solver == "dual" and list(tmp_path.iterdir()) == []
    np.testing.assert_allclose(chunked.r, whole.r, atol=1e-12)
    np.testing.assert_allclose(chunked.r2_split, whole.r2_split, atol=1e-12)
    for held in range(runs):
        kept = [i for i in range(runs) if i != held]
        train = [np.concatenate([bands[b][i] for i in kept]) for b in bands]
        y = np.concatenate([zscore(targets[i]) for i in kept])
        model = MultipleKernelRidgeCV(kernels="precomputed", cv=_inner_cv([t, t]), random_state=0,
                                      solver_params={"alphas": DEFAULT_ALPHAS, "n_iter": 6, "progress_bar": False})
        model.fit(np.stack([x @ x.T for x in train]), y)
        cross = np.stack([bands[b][held] @ x.T for b, x in zip(bands, train, strict=True)])
        np.testing.assert_allclose(whole.predictions[held], model.predict(cross), atol=1e-6)
        expected = r2_score_split(zscore(targets[held]), model.predict(cross, split=True))
        np.testing.assert_allclose(whole.r2_split[held], expected, atol=1e-6)


def test_one_band_in_primal_and_kernel_form_agree(rng):
    runs = [rng.standard_normal((60, 40)) for _ in range(3)]
    targets = [x @ rng.standard_normal((40, 5)) + rng.standard_normal((60, 5)) for x in runs]
    bands = band_features({"layer": runs}, [0, 1, 2])  # 120 features > 120 training time points: the kernel form
    kernel = fit_encoding(bands, targets)
    primal = fit_encoding(bands, targets, solver="primal")
    assert kernel.solver == "kernel-ridge" and primal.solver == "ridge"
    np.testing.assert_allclose(kernel.r, primal.r, atol=1e-6)


def test_numpy_and_torch_backends_agree_and_held_out_predictions_are_kept(rng):
    """himalaya's torch backend (on the CPU here) gives the numpy backend's scores; the kept held-out predictions
    are what the scores were computed from; the global backend is restored after the fit."""
    from himalaya.backend import get_backend

    from syncact.encoding import resolve_backend
    from syncact.encoding.features import zscore

    runs = [rng.standard_normal((80, 12)) for _ in range(3)]
    bands = band_features({"a": [x[:, :6] for x in runs], "b": [x[:, 6:] for x in runs]}, [0, 1])
    targets = [x @ rng.standard_normal((12, 6)) + rng.standard_normal((80, 6)) for x in runs]
    kwargs = {"alphas": np.logspace(-1, 4, 6), "n_iter": 3, "solver": "dual"}
    numpy = fit_encoding(bands, targets, backend="numpy", keep_predictions=True, **kwargs)
    torch = fit_encoding(bands, targets, backend="torch", **kwargs)
    assert get_backend().name == "numpy" and numpy.meta["backend"] == "numpy" and torch.meta["backend"] == "torch"
    np.testing.assert_allclose(torch.r, numpy.r, atol=1e-8)
    np.testing.assert_allclose(torch.r2_split, numpy.r2_split, atol=1e-8)
    assert torch.predictions is None and len(numpy.predictions) == 3
    for held, prediction in enumerate(numpy.predictions):
        np.testing.assert_allclose((zscore(prediction) * zscore(targets[held])).mean(0), numpy.r[held], atol=1e-10)
    assert resolve_backend("auto") in ("numpy", "torch_cuda")  # torch on the CPU only when asked (oversubscription)
    with pytest.raises(ConfigError, match="backend must be one of"):
        resolve_backend("jax")


def test_mismatched_inputs_are_refused(rng):
    bands = {"a": [rng.standard_normal((50, 3)), rng.standard_normal((40, 3))]}
    with pytest.raises(ShapeError, match="must be synchronised per run"):
        fit_encoding(bands, [rng.standard_normal((50, 2)), rng.standard_normal((41, 2))])
    with pytest.raises(ConfigError, match="at least 2 runs"):
        fit_encoding({"a": bands["a"][:1]}, [rng.standard_normal((50, 2))])
    with pytest.raises(ShapeError, match="every run needs the same features"):
        band_features({"a": [rng.standard_normal((50, 3)), rng.standard_normal((50, 4))]}, [0])
    with pytest.raises(ConfigError, match="solver must be"):
        choose_solver(3, 10, 2, "qr")


def test_the_shift_null_holds_its_level_on_unrelated_targets(rng):
    """Targets that nothing in the features drives (white and slow noise): at most alpha are called predicted.
    (Averaging r over folds before the test gave 12.5 %: each fold's prediction depends on the other fold's data.)"""
    from scipy.signal import lfilter

    raw = {n: [lfilter([1], [1, -0.8], rng.standard_normal((200, 32)), axis=0) for _ in range(2)] for n in ("a", "b")}
    bands = band_features(raw, [2, 3, 4])
    for phi in (0.0, 0.9):
        targets = [lfilter([1], [1, -phi], rng.standard_normal((200, 1500)), axis=0) for _ in range(2)]
        scores = fit_encoding(bands, targets, n_iter=3, alphas=np.logspace(0, 4, 5))
        assert scores.significant(0.05).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1500), phi
        assert scores.p_fold.shape == (2, 1500) and (scores.p_shift >= scores.p_fold.min(axis=0)).all()
