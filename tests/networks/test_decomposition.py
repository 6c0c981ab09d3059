"""Baselines under the embedding's interface: what the wrappers add, planted truth, independent references."""

import warnings

import nibabel as nib
import numpy as np
import pytest

from syncact.exceptions import ConfigError, DataError, UnknownNameError
from syncact.networks import FBNEmbedding, GroupICA, GroupPCA, SharedResponse, make_networks, method_names


@pytest.fixture
def planted(rng):
    """Six runs on a 8x8x8 mask: three sparse networks (50 of 512 voxels: ICA needs non-Gaussian maps) plus noise."""
    mask = np.zeros((10, 10, 10), bool)
    mask[1:9, 1:9, 1:9] = True
    mask_img = nib.Nifti1Image(mask.astype(np.uint8), np.diag([4.0, 4.0, 4.0, 1.0]))
    n_v = int(mask.sum())
    maps = np.zeros((3, n_v))
    for i in range(3):
        maps[i, i * 150 : i * 150 + 50] = 1.0
    runs = []
    for _ in range(6):
        x = rng.normal(size=(80, 3)) @ (maps * 3) + rng.normal(size=(80, n_v))
        runs.append(((x - x.mean(0)) / x.std(0)).astype(np.float32))
    return runs, maps, mask_img


def test_canica_sees_the_runs_unchanged_and_agrees_with_an_independent_ica(planted):
    from nilearn.maskers import MultiNiftiMasker

    from syncact.networks.decomposition import _RunImages
    from syncact.networks.identify import independent_maps

    runs, maps, mask_img = planted
    # what is ours: the runs handed to nilearn as images come back unchanged through nilearn's own masker
    images = _RunImages(runs, mask_img)
    masker = MultiNiftiMasker(mask_img=mask_img, standardize=None, detrend=False).fit()
    for x, back in zip(runs, masker.transform(images[:]), strict=True):
        np.testing.assert_array_equal(back, x)
    ours = GroupICA(3, mask_img=mask_img, seed=0).fit(runs)
    # the planted networks are found, each with its peak positive
    r = np.corrcoef(np.vstack([maps, ours.maps_]))[:3, 3:]
    assert r.max(axis=1).min() > 0.95, r
    assert np.all(ours.maps_[np.arange(3), np.abs(ours.maps_).argmax(1)] > 0)
    # an independent ICA (scikit-learn's FastICA through syncact.networks.identify on the group PCA subspace,
    # not nilearn's CanICA code) gives the same maps up to order
    basis = np.linalg.svd(np.vstack(runs), full_matrices=False)[2][:3]
    other = independent_maps(basis, seed=1).mixing @ basis
    agreement = np.abs(np.corrcoef(np.vstack([ours.maps_, other]))[:3, 3:]).max(axis=1)
    assert agreement.min() > 0.99, agreement
    # time series: least squares of the run on the maps, checked against numpy's solver
    expected = np.linalg.lstsq(ours.maps_.T, runs[0].T.astype(np.float64), rcond=None)[0].T
    np.testing.assert_allclose(ours.transform(runs[0]), expected, atol=1e-6)


def test_dictlearning_recovers_the_planted_maps(planted):
    runs, maps, mask_img = planted
    empty = GroupICA(2)  # an all-zero map (too much sparsity) is named, not passed on silently
    empty.method = "dictlearning"
    with pytest.warns(RuntimeWarning, match="1 of 2 maps are all zero \\(networks \\[1\\]\\); .*lower alpha"):
        empty._set_maps(np.vstack([maps[0], np.zeros(maps.shape[1])]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's lasso does not converge on pure-noise voxels
        est = make_networks("dictlearning", 3, mask_img=mask_img, seed=0).fit(runs)
    r = np.corrcoef(np.vstack([maps, est.maps_]))[:3, 3:]
    assert r.max(axis=1).min() > 0.95, r
    with pytest.raises(ConfigError, match="needs mask_img"):
        make_networks("canica", 3).fit(runs)


def test_pca_equals_scikit_learn(planted):
    from sklearn.decomposition import PCA

    runs, _, _ = planted
    ours = GroupPCA(5).fit(runs)
    ref = PCA(5, svd_solver="full").fit(np.vstack(runs))  # z-scored runs: the centring is a no-op
    cos = np.abs(np.sum(ours.maps_ * ref.components_, axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)
    np.testing.assert_allclose(ours.transform(runs[0]), runs[0] @ ours.maps_.T, atol=1e-4)


def test_srm_recovers_the_planted_shared_response_and_needs_subjects(rng):
    # one movie: the same 3 responses in every subject, carried by maps that share an anatomy (a common
    # orthonormal basis) plus each subject's own deviation; SRM must find the shared time courses and the
    # common maps, which is checked against the planted truth rather than against brainiak itself
    shared = rng.normal(size=(60, 3))
    common = np.linalg.qr(rng.normal(size=(120, 3)))[0]
    runs, groups, bases = [], [], []
    for s in range(4):
        w = np.linalg.qr(common + 0.02 * rng.normal(size=(120, 3)))[0]  # columns 0.2 (norm) off
        bases.append(w)
        for half in (slice(0, 30), slice(30, 60)):
            runs.append((shared[half] @ w.T + 0.1 * rng.normal(size=(30, 120))).astype(np.float32))
            groups.append(f"s{s}")
    ours = SharedResponse(3, n_iter=10, seed=0).fit(runs, groups=groups)

    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # cosines of the principal angles of two spans
        return np.linalg.svd(np.linalg.qr(a)[0].T @ np.linalg.qr(b)[0], compute_uv=False)

    # the shared response up to a rotation (SRM centres each subject's data; measured 0.998)
    assert cosines(ours.estimator_.s_.T, shared - shared.mean(axis=0)).min() > 0.99
    for w, w_hat in zip(bases, ours.estimator_.w_, strict=True):  # each subject's own maps (measured 0.98)
        assert cosines(w_hat, w).min() > 0.97
    assert cosines(ours.maps_.T, common).min() > 0.95  # the group maps span the common anatomy (0.96; random: ~0.2)
    # the group maps are the subjects' mean, each signed so its peak is positive
    mean = np.mean(ours.estimator_.w_, axis=0).T
    signs = np.sign(mean[np.arange(3), np.abs(mean).argmax(1)])
    np.testing.assert_allclose(ours.maps_, mean * signs[:, None], atol=1e-12)
    with pytest.raises(ConfigError, match="needs groups"):
        SharedResponse(3).fit(runs)
    with pytest.raises(DataError, match="same runs in the same order"):
        SharedResponse(3).fit(runs[:3], groups=["a", "a", "b"])


def test_make_networks_names_variants_and_errors():
    assert method_names() == ["lt", "lt+lstm", "lt+msa", "sync-act", "canica", "dictlearning", "pca", "srm"]
    emb = make_networks("LT+LSTM", 8, n_epochs=3, mask_img=None)  # settings a method does not take are dropped
    assert isinstance(emb, FBNEmbedding) and emb.temporal == "lstm" and emb.n_epochs == 3
    assert make_networks("pca", 8, n_epochs=3).n_networks == 8
    with pytest.raises(UnknownNameError, match="'canicaa'.*canica"):
        make_networks("canicaa", 8)


def test_network_spec_gives_one_identity_to_two_names_of_a_model():
    from syncact.networks import network_spec

    settings = {"n_epochs": 3, "mask_img": None, "seed": 1}
    assert network_spec("LT+MSA", **settings) == network_spec("sync-act", temporal="msa", **settings)
    assert network_spec("lt", **settings) != network_spec("lt+msa", **settings)
    name, params = network_spec("pca", **settings)
    assert name == "pca" and "n_epochs" not in params  # PCA does not train


@pytest.mark.parametrize("method", ["sync-act", "lt+lstm", "canica", "dictlearning", "pca", "srm"])
def test_every_method_follows_scikit_learns_parameter_contract(method):
    from sklearn.base import clone

    est = make_networks(method, 5, seed=3, n_epochs=2)
    params = est.get_params()
    assert params["n_networks"] == 5 and params["seed"] == 3
    twin = clone(est)  # a new unfitted estimator with the same parameters (fails if __init__ changes them)
    assert twin is not est and twin.get_params() == params
    assert est.set_params(n_networks=6) is est and est.n_networks == 6
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(not_a_parameter=1)
    assert repr(est).startswith(type(est).__name__ + "(")
