"""LayerSearchlight, the RSA study's result: its tables are the maps' figures, and save never overwrites."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from syncact.rsa import rdm_vector
from syncact.rsa.rdm import LayerRDMs
from syncact.rsa.searchlight import searchlight_rsa, sphere_neighbourhoods
from syncact.rsa.study import LayerSearchlight


@pytest.fixture
def study(rng):
    mask = np.ones((6, 6, 6), bool)
    mask_img = nib.Nifti1Image(mask.astype(np.uint8), np.diag([4.0, 4.0, 4.0, 1.0]))
    n = 10
    features = rng.normal(size=(2, n, 20))
    vectors = np.stack([rdm_vector(f) for f in features])
    data = rng.normal(size=(n, mask.sum()))
    data[:, :40] += 3 * features[0] @ rng.normal(size=(20, 40)) / np.sqrt(20)  # a region that encodes layer "a"
    spheres = sphere_neighbourhoods(mask, mask_img.affine, 4.0)
    maps = searchlight_rsa(data, spheres, vectors, layers=["a", "b"], n_perm=50, seed=0)
    rdms = LayerRDMs(["a", "b"], vectors, "correlation")
    return LayerSearchlight(rdms, rdms, maps, mask_img, [f"img-{i}" for i in range(n)], {"radius_mm": 4.0})


def test_tables_are_the_maps_figures(study):
    tables = study.tables(0.05)
    layers = tables["layers"].set_index("layer")
    sig = study.maps.significant(0.05)
    for i, layer in enumerate(["a", "b"]):
        assert layers.loc[layer, "peak_similarity"] == pytest.approx(np.nanmax(study.maps.similarity[i]))
        assert layers.loc[layer, "n_significant"] == sig[i].sum()
        assert layers.loc[layer, "n_winner"] == (study.maps.winner_take_all(0.05) == i).sum()
    assert layers.loc["a", "n_significant"] > 0 and layers.loc["a", "n_significant"] > layers.loc["b", "n_significant"]
    np.testing.assert_allclose(tables["layer_similarity"].to_numpy(), np.corrcoef(study.rdms.vectors))
    np.testing.assert_allclose(tables["dice"].to_numpy(), study.maps.dice(0.05))


def test_save_writes_everything_once(study, tmp_path):
    written = study.save(tmp_path / "out")
    assert all(p.is_file() for p in written)
    meta = json.loads((tmp_path / "out" / "searchlight.json").read_text())
    assert meta["images"] == study.names and meta["radius_mm"] == 4.0 and meta["alpha"] == 0.05
    with np.load(tmp_path / "out" / "rdms.npz") as saved:
        np.testing.assert_array_equal(saved["rdm/a"], study.rdms.vectors[0])
    layers = pd.read_csv(tmp_path / "out" / "tables" / "layers.csv")
    assert layers["layer"].tolist() == ["a", "b"]
    before = (tmp_path / "out" / "searchlight.json").read_bytes()
    with pytest.raises(FileExistsError, match="holds a searchlight result already"):
        study.save(tmp_path / "out")
    assert (tmp_path / "out" / "searchlight.json").read_bytes() == before
