"""RDMs and their comparisons equal rsatoolbox's (and scipy's) on the same data."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from syncact.exceptions import DataError, ShapeError
from syncact.rsa import compare_rdms, layer_rdms, rdm_vector, square

rsatoolbox = pytest.importorskip("rsatoolbox")


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_rdm_equals_rsatoolbox(rng, metric):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    x = rng.normal(size=(16, 50))
    ours = rdm_vector(x, metric)
    ref = calc_rdm(Dataset(x), method=metric).get_vectors()[0]
    np.testing.assert_allclose(ours, ref, atol=1e-8)
    np.testing.assert_allclose(square(ours), calc_rdm(Dataset(x), method=metric).get_matrices()[0], atol=1e-8)


def test_cosine_rdm_equals_scipy(rng):
    x = rng.normal(size=(12, 30))
    np.testing.assert_allclose(rdm_vector(x, "cosine"), pdist(x, "cosine"), atol=1e-10)


@pytest.mark.parametrize(("ours", "theirs"), [("pearson", "corr"), ("spearman", "spearman"), ("kendall_tau_a", "tau-a"),
                                              ("cosine", "cosine")])
def test_comparisons_equal_rsatoolbox(rng, ours, theirs):
    from rsatoolbox.rdm import RDMs, compare

    a = rng.normal(size=(3, 45))
    b = rng.normal(size=(2, 45))
    b[0] = a[1] + 0.5 * rng.normal(size=45)
    b[1] = np.round(b[1])  # ties: where tau-a differs from tau-b
    ref = compare(RDMs(a), RDMs(b), method=theirs)
    np.testing.assert_allclose(compare_rdms(a, b, ours), ref, atol=1e-8)


def test_layer_rdms_similarity_and_orthogonality(rng):
    base = rng.normal(size=(10, 40))
    layers = {"a": base, "b": base + 0.1 * rng.normal(size=base.shape), "c": rng.normal(size=(10, 40))}
    rdms = layer_rdms(layers)
    sim = rdms.similarity()
    assert sim.shape == (3, 3) and np.allclose(np.diag(sim), 1)
    assert sim[0, 1] > 0.9 and abs(sim[0, 2]) < 0.5
    assert rdms.mean_abs_offdiagonal() == pytest.approx(np.abs(sim[~np.eye(3, dtype=bool)]).mean())
    assert rdms.matrix("c").shape == (10, 10) and rdms.n_conditions == 10


def test_bad_input_is_named(rng):
    with pytest.raises(ShapeError, match="different numbers of images"):
        layer_rdms({"a": rng.normal(size=(5, 3)), "b": rng.normal(size=(6, 3))})
    constant = rng.normal(size=(5, 4))
    constant[2] = 1.0
    with pytest.raises(DataError, match=r"conditions \[2\] have constant patterns"):
        rdm_vector(constant)
    with pytest.raises(ShapeError, match="same images"):
        compare_rdms(np.ones(10), np.ones(15))
    with pytest.raises(ShapeError, match="not the upper triangle"):
        square(np.ones(7))
