"""Baselines under the embedding's interface, checked against the libraries they wrap."""

import warnings

import nibabel as nib
import numpy as np
import pytest

from syncact.brain import FBNEmbedding, GroupICA, GroupPCA, SharedResponse, make_networks, method_names
from syncact.exceptions import ConfigError, DataError, UnknownNameError


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


def test_canica_equals_nilearn_on_the_same_images(planted):
    from nilearn.decomposition import CanICA
    from nilearn.maskers import MultiNiftiMasker

    runs, maps, mask_img = planted
    ours = GroupICA(3, mask_img=mask_img, seed=0).fit(runs)
    mask = np.asarray(mask_img.dataobj, bool)
    images = []
    for x in runs:
        vol = np.zeros((*mask.shape, x.shape[0]), np.float32)
        vol[mask] = x.T
        images.append(nib.Nifti1Image(vol, mask_img.affine))
    masker = MultiNiftiMasker(mask_img=mask_img, standardize=False, detrend=False).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = CanICA(mask=masker, n_components=3, smoothing_fwhm=None, standardize=False, detrend=False, random_state=0,
                     n_init=10, threshold=None).fit(images)
    signs = np.sign(ref.components_[np.arange(3), np.abs(ref.components_).argmax(1)])
    np.testing.assert_allclose(ours.maps_, ref.components_ * signs[:, None], atol=1e-6)
    # time series: nilearn's transform (least squares on the maps) with our sign convention
    np.testing.assert_allclose(ours.transform(runs[0]), ref.transform(images[:1])[0] * signs, atol=1e-4)
    r = np.corrcoef(np.vstack([maps, ours.maps_]))[:3, 3:]  # and it finds the planted networks
    assert r.max(axis=1).min() > 0.95, r


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


def test_srm_equals_brainiak_and_needs_subjects(rng):
    from brainiak.funcalign.srm import SRM

    shared = rng.normal(size=(60, 3))  # one movie: the same response in every subject, other maps
    runs, groups = [], []
    for s in range(4):
        w = np.linalg.qr(rng.normal(size=(120, 3)))[0]
        for half in (slice(0, 30), slice(30, 60)):
            runs.append((shared[half] @ w.T + 0.1 * rng.normal(size=(30, 120))).astype(np.float32))
            groups.append(f"s{s}")
    ours = SharedResponse(3, n_iter=10, seed=0).fit(runs, groups=groups)
    data = [np.vstack([runs[2 * s], runs[2 * s + 1]]).astype(np.float64).T for s in range(4)]
    ref = SRM(n_iter=10, features=3, rand_seed=0).fit(data)
    expected = np.mean(ref.w_, axis=0).T
    signs = np.sign(expected[np.arange(3), np.abs(expected).argmax(1)])
    np.testing.assert_allclose(ours.maps_, expected * signs[:, None], atol=1e-10)
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
    from syncact.brain import network_spec

    settings = {"n_epochs": 3, "mask_img": None, "seed": 1}
    assert network_spec("LT+MSA", **settings) == network_spec("sync-act", temporal="msa", **settings)
    assert network_spec("lt", **settings) != network_spec("lt+msa", **settings)
    name, params = network_spec("pca", **settings)
    assert name == "pca" and "n_epochs" not in params  # PCA does not train
