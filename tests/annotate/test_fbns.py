"""FBN describers: planted maps come back as their atlas network, region, label or term."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.datasets import load_mni152_brain_mask

from syncact.annotate import CoordinateAtlas, LabelAtlas, TermMaps, map_peaks, user_labels
from syncact.brain.masking import voxel_coordinates
from syncact.exceptions import ConfigError, DataError, ShapeError


@pytest.fixture(scope="module")
def grid():
    img = load_mni152_brain_mask(resolution=4)
    mask = np.asarray(img.dataobj) > 0
    return mask, img.affine, voxel_coordinates(mask, img.affine)


def _blobs(xyz, centres, sigma=8.0):
    return np.exp(-((xyz[:, None] - centres[None]) ** 2).sum(-1) / (2 * sigma**2)).sum(axis=1)


@pytest.mark.parametrize("atlas", [CoordinateAtlas.dosenbach_2010(), CoordinateAtlas.seitzman_2018()], ids=lambda a: a.name)
def test_a_map_on_one_networks_rois_is_described_as_that_network(grid, atlas):
    mask, affine, xyz = grid
    networks = sorted(set(atlas.networks))
    maps = np.stack([_blobs(xyz, atlas.coords[np.asarray(atlas.networks) == n]) for n in networks])
    table = atlas.describe(maps, mask, affine, networks, top=3)
    first = table[(table["source"] == f"{atlas.name}:network") & (table["rank"] == 1)].set_index("unit")["term"]
    large = [n for n in networks if (np.asarray(atlas.networks) == n).sum() >= 5]  # small ones overlap their neighbours
    assert len(large) >= 5, large
    for net in large:
        assert first[net] == f"{net} network", (net, first[net])
    assert list(table.columns) == ["unit", "source", "rank", "term", "score"]


def test_dosenbach_regions_name_the_planted_roi(grid):
    mask, affine, xyz = grid
    atlas = CoordinateAtlas.dosenbach_2010()
    i = atlas.regions.index("precuneus")
    table = atlas.describe(_blobs(xyz, atlas.coords[[i]], sigma=4)[None], mask, affine, ["FBN-00"])
    region = table[table["source"] == "dosenbach_2010:region"].iloc[0]
    assert region["term"] == "precuneus" and region["score"] > 0.5


def test_map_peaks_are_the_planted_centres_and_their_nearest_roi(grid):
    """A blob on an ROI centre peaks at the voxel nearest that centre, named by the ROI; distances by brute force."""
    mask, affine, xyz = grid
    atlas = CoordinateAtlas.dosenbach_2010()
    chosen = [atlas.regions.index(r) for r in ("precuneus", "occipital", "vlPFC")]
    maps = np.stack([_blobs(xyz, atlas.coords[[i]], sigma=4) for i in chosen])
    table = map_peaks(maps, mask, affine, ["a", "b", "c"], atlas)
    assert list(table.columns) == ["fbn", "x", "y", "z", "region", "atlas_network", "distance_mm"]
    for row, i in zip(table.itertuples(), chosen, strict=True):
        nearest_voxel = xyz[np.linalg.norm(xyz - atlas.coords[i], axis=1).argmin()]
        np.testing.assert_allclose([row.x, row.y, row.z], nearest_voxel)
        brute = np.linalg.norm(atlas.coords - nearest_voxel, axis=1)
        assert row.distance_mm == pytest.approx(brute.min()) and row.region == atlas.regions[int(brute.argmin())]
        assert row.distance_mm <= 4 * np.sqrt(3) / 2 + 1e-9  # within half a voxel diagonal of its centre
    with pytest.raises(ShapeError, match="2 names for 3 maps"):
        map_peaks(maps, mask, affine, ["a", "b"], atlas)


def test_label_atlas_on_another_grid_and_its_files(grid, tmp_path):
    mask, affine, xyz = grid
    fine = load_mni152_brain_mask(resolution=2)
    ijk = np.argwhere(np.ones(fine.shape, bool))
    x = (ijk @ fine.affine[:3, :3].T + fine.affine[:3, 3])[:, 0].reshape(fine.shape)
    labels = np.where(np.asarray(fine.dataobj) > 0, np.where(x < 0, 1, 2), 0).astype(np.int16)
    nib.save(nib.Nifti1Image(labels, fine.affine), tmp_path / "hemi.nii.gz")
    (tmp_path / "hemi.txt").write_text("Background\nleft hemisphere\nright hemisphere\n")
    atlas = LabelAtlas.from_files(tmp_path / "hemi.nii.gz", tmp_path / "hemi.txt")
    right = _blobs(xyz, np.array([[40.0, -20, 10]]))
    table = atlas.describe(np.stack([right, right * 0.5]), mask, affine, ["a", "b"])
    best = table[table["rank"] == 1].set_index("unit")
    assert best.loc["a", "term"] == "right hemisphere" and best.loc["a", "score"] > 0.95
    assert best.loc["b", "score"] == pytest.approx(best.loc["a", "score"])  # scale does not matter
    pd.DataFrame({"index": [1], "name": ["left"]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match=r"labels \[2\] that short.csv does not name"):
        LabelAtlas.from_files(tmp_path / "hemi.nii.gz", tmp_path / "short.csv")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(DataError, match="broken.nii.gz.*cannot be read"):
        LabelAtlas.from_files(tmp_path / "broken.nii.gz", tmp_path / "hemi.txt")


def test_term_maps_rank_the_planted_term_by_spatial_correlation(grid, tmp_path, rng):
    mask, affine, xyz = grid
    planted = _blobs(xyz, np.array([[-40.0, -60, -10], [40, -60, -10]]))
    for name, values in (("face_recognition", planted + 0.1 * rng.normal(size=planted.size)),
                         ("motor", _blobs(xyz, np.array([[0.0, -20, 60]]))), ("noise", rng.normal(size=planted.size))):
        volume = np.zeros(mask.shape, np.float32)
        volume[mask] = values
        nib.save(nib.Nifti1Image(volume, affine), tmp_path / f"{name}.nii.gz")
    terms = TermMaps.from_directory(tmp_path)
    assert terms.terms == ("face recognition", "motor", "noise")
    table = terms.describe(planted[None], mask, affine, ["FBN-00"])
    assert table.iloc[0]["term"] == "face recognition"
    saved = np.asarray(nib.load(tmp_path / "face_recognition.nii.gz").dataobj)[mask]
    assert table.iloc[0]["score"] == pytest.approx(np.corrcoef(planted, saved)[0, 1], abs=1e-6)
    with pytest.raises(DataError, match="holds no .nii"):
        TermMaps.from_directory(tmp_path / "..")
    with pytest.raises(ShapeError, match="n_voxels"):
        terms.describe(planted[None, :100], mask, affine, ["FBN-00"])


def test_user_labels(tmp_path):
    pd.DataFrame({"fbn": ["FBN-01", "FBN-01", "FBN-02"], "label": ["faces", "people", ""]}).to_csv(tmp_path / "l.csv",
                                                                                              index=False)
    table = user_labels(tmp_path / "l.csv", ["FBN-01", "FBN-02"], column="fbn")
    assert table["term"].tolist() == ["faces", "people"] and table["rank"].tolist() == [1, 2]
    with pytest.raises(ConfigError, match="FBN-01.*not among the 1 units"):
        user_labels(tmp_path / "l.csv", ["FBN-02"], column="fbn")
    with pytest.raises(DataError, match="needs columns 'filter' and 'label'"):
        user_labels(tmp_path / "l.csv", ["FBN-01"], column="filter")


def test_voxel_networks_label_the_spheres_by_their_nearest_centre(grid):
    """Brute force: a voxel takes the network of its nearest ROI centre when that lies within the radius."""
    mask, affine, xyz = grid
    atlas = CoordinateAtlas.dosenbach_2010()
    labels = atlas.voxel_networks(mask, affine)
    assert labels.shape == (mask.sum(),)
    dist = np.linalg.norm(xyz[:, None] - atlas.coords[None], axis=2)
    nearest = dist.argmin(axis=1)
    inside = dist.min(axis=1) <= atlas.radius_mm
    expected = np.where(inside, np.asarray(atlas.networks)[nearest], "")
    np.testing.assert_array_equal(labels, expected)
    assert set(labels) == set(atlas.networks) | {""} and 0.02 < (labels != "").mean() < 0.3
