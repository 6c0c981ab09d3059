"""Grayordinates out: a store keeps its input's brain models, and maps come back as CIFTI-2 dense scalars."""

import nibabel as nib
import numpy as np
import pytest

from syncact.brain import prepare_dataset
from syncact.brain.cifti import dscalar, models_from_arrays, models_to_arrays, read_brain_models
from syncact.brain.layouts import scan_dataset
from syncact.exceptions import ConfigError, ShapeError


@pytest.fixture
def cifti_store(hcp_dataset, tmp_path):
    return prepare_dataset(scan_dataset(hcp_dataset, hcp_data="cifti"), tmp_path / "c.zarr", progress=False)


def test_brain_models_round_trip_as_arrays(hcp_dataset):
    models = read_brain_models(next(hcp_dataset.rglob("*.dtseries.nii")))
    arrays, attrs = models_to_arrays(models)
    assert models_from_arrays(arrays, attrs) == models and arrays["vertex"].dtype == np.int32


def test_maps_are_written_as_dscalar_with_the_inputs_brain_models(cifti_store, hcp_dataset, tmp_path, rng):
    """Round trip: a dscalar written from the store and read back by nibabel has the input's brain models (the
    store's grayordinates) and the values (1e-6), with the dense-scalar intent that Workbench reads."""
    models = read_brain_models(next(hcp_dataset.rglob("*.dtseries.nii")))
    assert cifti_store.kind == "cifti" and cifti_store.map_suffix == ".dscalar.nii"
    assert cifti_store.brain_models(all_columns=True) == models
    assert cifti_store.brain_models() == models[cifti_store.voxels]
    maps = rng.standard_normal((3, cifti_store.n_features)).astype(np.float32)
    path = tmp_path / f"maps{cifti_store.map_suffix}"
    nib.save(cifti_store.map_image(maps, ["a", "b", "c"]), path)
    back = nib.load(path)
    assert isinstance(back, nib.Cifti2Image) and back.nifti_header.get_intent()[0] == "ConnDenseScalar"
    assert list(back.header.get_axis(0).name) == ["a", "b", "c"] and back.header.get_axis(1) == models[cifti_store.voxels]
    np.testing.assert_allclose(back.get_fdata(), maps, atol=1e-6)
    with pytest.raises(ShapeError, match="grayordinates"):
        cifti_store.map_image(maps[:, :5])
    with pytest.raises(ConfigError, match="not CIFTI"):
        prepare_dataset(scan_dataset(hcp_dataset), tmp_path / "v.zarr", progress=False).brain_models()
    with pytest.raises(ShapeError, match="2 names for 3 maps"):
        dscalar(maps, models[cifti_store.voxels], ["a", "b"])


def test_a_run_with_other_grayordinates_is_refused(hcp_dataset, builders, tmp_path):
    """The store's columns must mean the same in every run: a run on other brain models stops the preparation."""
    from nibabel.cifti2 import cifti2_axes as ax

    files = sorted(hcp_dataset.rglob("*.dtseries.nii"))
    img = nib.load(files[-1])
    data, series, models = img.get_fdata(dtype=np.float32), img.header.get_axis(0), img.header.get_axis(1)
    del img  # nibabel maps the file: write the damaged copy elsewhere, then move it over
    other = ax.BrainModelAxis.from_surface(np.arange(1, 41), 60, name="CortexLeft") + models[40:]
    nib.save(nib.Cifti2Image(data, header=(series, other)), tmp_path / "other.dtseries.nii")
    (tmp_path / "other.dtseries.nii").replace(files[-1])
    with pytest.raises(ShapeError, match="other brain models"):
        prepare_dataset(scan_dataset(hcp_dataset, hcp_data="cifti"), tmp_path / "c.zarr", progress=False)


def test_encoding_maps_of_a_cifti_store_are_dscalars(cifti_store, tmp_path, rng):
    """`syncact encode`'s maps follow the store: dense scalars on its grayordinates (no atlas table off a grid)."""
    from syncact.encoding import atlas_networks, encode_store

    t = cifti_store.runs[0]["n_timepoints"]
    features = {run: {"layer": rng.standard_normal((t, 6))} for run in ("1", "2")}
    result = encode_store(cifti_store, features, tmp_path / "scratch", delays=[0, 1], n_iter=2, null=False)
    assert atlas_networks(cifti_store) is None
    written = result.save(tmp_path / "enc", cifti_store)
    maps = [p for p in written if p.name.endswith(".dscalar.nii")]
    assert {p.name for p in maps} >= {"r.dscalar.nii", "ceiling.dscalar.nii", "winner.dscalar.nii"}
    back = nib.load(tmp_path / "enc" / "maps" / "r.dscalar.nii")
    np.testing.assert_allclose(back.get_fdata()[0], result.scores.mean_r, atol=1e-6)


def test_a_picture_of_a_store_map_needs_the_fslr_32k_mesh(cifti_store):
    """The test store's surfaces have 60 vertices: drawing on the HCP surfaces is refused with the reason."""
    from syncact.report.surface import store_picture

    with pytest.raises(ConfigError, match="not on the fsLR 32k mesh"):
        store_picture(cifti_store, np.zeros(cifti_store.n_features), "r")
