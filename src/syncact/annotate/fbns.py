"""Describe FBN maps in the words of brain science: atlas networks and regions, meta-analytic terms, user labels.

Every describer turns ``maps`` (n_fbns, n_voxels) on a mask grid into scored terms per FBN; a map is
read by its positive part scaled to a peak of 1 (the sign is fixed so that the peak is positive).

* :class:`CoordinateAtlas` - ROI centres with network labels. Bundled with nilearn, so available offline:
  Dosenbach et al. 2010 (160 ROIs, 6 networks, named regions) and Seitzman et al. 2018 (300 ROIs,
  14 networks). Score of a network: the mean map value in spheres around its ROIs.
* :class:`LabelAtlas` - an integer label image with names (Harvard-Oxford, AAL, Schaefer, any the user has).
  Score of a label: the share of the map's positive mass inside it.
* :class:`TermMaps` - a directory of meta-analytic maps, one NIfTI per term (Neurosynth / NeuroQuery style,
  downloaded by the user). Score of a term: the spatial Pearson correlation with the map.
* :func:`user_labels` - a CSV of labels the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from syncact.brain.masking import voxel_coordinates
from syncact.exceptions import ConfigError, DataError, ShapeError

COLUMNS = ["unit", "source", "rank", "term", "score"]
"""Columns of every description table: one row per (unit, source, term), best first within a source."""


def _positive_unit_peak(maps: np.ndarray) -> np.ndarray:
    maps = np.clip(np.asarray(maps, dtype=np.float64), 0, None)
    peak = maps.max(axis=1, keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)


def _check_maps(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 2 or maps.shape[1] != int(np.count_nonzero(mask)):
        raise ShapeError(f"maps must be (n_fbns, n_voxels) with n_voxels = {int(np.count_nonzero(mask))} voxels in "
                         f"the mask, got {maps.shape}.")
    if not np.isfinite(maps).all():
        raise DataError("maps contain NaN or infinite values.")
    return maps


def rank_terms(scores: np.ndarray, terms: Sequence[str], source: str, names: Sequence[str], top: int) -> pd.DataFrame:
    """Scores (n_units, n_terms) -> the ``top`` best terms of each unit as description rows (NaN scores skipped).

    The one place every describer (FBN or filter) turns its scores into rows of :data:`COLUMNS`.
    """
    rows = []
    for k, name in enumerate(names):
        order = [j for j in np.argsort(-np.nan_to_num(scores[k], nan=-np.inf)) if np.isfinite(scores[k, j])][:top]
        rows += [{"unit": name, "source": source, "rank": r + 1, "term": terms[j], "score": float(scores[k, j])}
                 for r, j in enumerate(order)]
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class CoordinateAtlas:
    """ROI centres (mm, MNI) with a network and a region name each, scored by spheres of ``radius_mm``.

    Attributes
    ----------
    name : str
    coords : ndarray of shape (n_rois, 3)
    networks, regions : tuple of str, length n_rois
    radius_mm : float
        Sphere radius; at least the voxels nearest to each centre are used.
    """

    name: str
    coords: np.ndarray
    networks: tuple[str, ...]
    regions: tuple[str, ...]
    radius_mm: float = 6.0

    @classmethod
    def dosenbach_2010(cls) -> CoordinateAtlas:
        """Dosenbach et al. 2010 (Science): 160 ROIs in 6 networks, with region names (bundled with nilearn)."""
        from nilearn.datasets import fetch_coords_dosenbach_2010

        atlas = fetch_coords_dosenbach_2010(ordered_regions=False)
        regions = tuple(re.sub(r"\s*\d+$", "", str(label)) for label in atlas.labels)
        return cls("dosenbach_2010", atlas.rois[["x", "y", "z"]].to_numpy(float), tuple(map(str, atlas.networks)),
                   regions)

    @classmethod
    def seitzman_2018(cls) -> CoordinateAtlas:
        """Seitzman et al. 2018 (NeuroImage): 300 ROIs in 14 networks (bundled with nilearn); unassigned left out."""
        from nilearn.datasets import fetch_coords_seitzman_2018

        atlas = fetch_coords_seitzman_2018()
        networks = np.asarray(atlas.networks).astype(str)
        keep = networks != "unassigned"
        return cls("seitzman_2018", atlas.rois[["x", "y", "z"]].to_numpy(float)[keep], tuple(networks[keep]),
                   tuple(np.asarray(atlas.regions).astype(str)[keep]))

    def roi_scores(self, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """Mean positive, peak-scaled map value in each ROI's sphere: (n_fbns, n_rois); NaN outside the mask."""
        maps = _positive_unit_peak(_check_maps(maps, mask))
        coords = voxel_coordinates(mask, affine)
        out = np.full((maps.shape[0], len(self.coords)), np.nan)
        voxel = float(np.abs(np.linalg.det(np.asarray(affine)[:3, :3])) ** (1 / 3))
        for i, centre in enumerate(self.coords):
            dist = np.linalg.norm(coords - centre, axis=1)
            inside = dist <= max(self.radius_mm, voxel * 0.87)  # a centre between voxels still meets its nearest
            if inside.any():
                out[:, i] = maps[:, inside].mean(axis=1)
        return out

    def voxel_networks(self, mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """Each mask voxel's network: that of the nearest ROI centre within its sphere, ``""`` beyond every sphere.

        Returns
        -------
        ndarray of str, shape (n_voxels,)
            In the mask's voxel order (C order of ``mask``).
        """
        coords = voxel_coordinates(np.asarray(mask, dtype=bool), affine)
        voxel = float(np.abs(np.linalg.det(np.asarray(affine)[:3, :3])) ** (1 / 3))
        out = np.full(len(coords), "", dtype=object)
        best = np.full(len(coords), np.inf)
        for centre, network in zip(self.coords, self.networks, strict=True):
            dist = np.linalg.norm(coords - centre, axis=1)
            closer = (dist <= max(self.radius_mm, voxel * 0.87)) & (dist < best)
            out[closer], best[closer] = network, dist[closer]
        return out.astype(str)

    def describe(self, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str], *,
                 top: int = 3) -> pd.DataFrame:
        """Networks (mean over their ROIs) and regions (best ROI of each name) of every FBN, best first."""
        rois = self.roi_scores(maps, mask, affine)
        scores = pd.DataFrame(rois.T)  # (n_rois, n_fbns); NaN rows (outside the mask) are skipped by pandas
        nets = scores.groupby(np.asarray(self.networks)).mean()  # (n_networks, n_fbns)
        tables = [rank_terms(nets.to_numpy().T, [f"{n} network" for n in nets.index], f"{self.name}:network", names, top)]
        if len(set(self.regions)) > 10:  # named regions (Dosenbach), not hemispheres (Seitzman)
            regions = scores.groupby(np.asarray(self.regions)).max()
            tables.append(rank_terms(regions.to_numpy().T, list(regions.index), f"{self.name}:region", names, top))
        return pd.concat(tables, ignore_index=True)


def map_peaks(maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str],
              atlas: CoordinateAtlas | None = None) -> pd.DataFrame:
    """Each map's peak (its largest positive value) in MNI mm and the atlas ROI whose centre is nearest to it.

    A coordinate atlas has centres, not borders: the label is the nearest ROI and its distance is given,
    so a reader sees how far the peak is from what names it (no volumetric label atlas ships offline).

    Parameters
    ----------
    maps : ndarray of shape (n_fbns, n_voxels)
        Maps on ``mask`` (sign fixed so that the peak is positive, as FBN maps are).
    mask : ndarray of bool, 3D
    affine : ndarray of shape (4, 4)
    names : sequence of str, length n_fbns
    atlas : CoordinateAtlas or None
        Default: Dosenbach et al. 2010 (named regions).

    Returns
    -------
    DataFrame
        One row per map: ``fbn, x, y, z, region, atlas_network, distance_mm``.
    """
    maps = _check_maps(maps, mask)
    if len(names) != maps.shape[0]:
        raise ShapeError(f"{len(names)} names for {maps.shape[0]} maps.")
    atlas = atlas or CoordinateAtlas.dosenbach_2010()
    peaks = voxel_coordinates(mask, affine)[maps.argmax(axis=1)]  # (n_fbns, 3)
    dist = np.linalg.norm(peaks[:, None, :] - atlas.coords[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    return pd.DataFrame({"fbn": list(names), "x": peaks[:, 0], "y": peaks[:, 1], "z": peaks[:, 2],
                         "region": [atlas.regions[i] for i in nearest],
                         "atlas_network": [atlas.networks[i] for i in nearest],
                         "distance_mm": dist[np.arange(len(nearest)), nearest]})


def _load_image(path: Path, what: str) -> nib.spatialimages.SpatialImage:
    if not path.is_file():
        raise DataError(f"{what} {str(path)!r} does not exist.")
    try:
        return nib.load(path)
    except Exception as exc:  # nibabel raises several types for unreadable files
        raise DataError(f"{what} {str(path)!r} cannot be read as NIfTI ({exc}); check the file or remove it.") from exc


def _on_grid(img: nib.spatialimages.SpatialImage, mask: np.ndarray, affine: np.ndarray, interpolation: str) -> np.ndarray:
    """Values of a 3D/4D image at the mask's voxels (resampled to the mask grid): (n_voxels,) or (n_voxels, n)."""
    from nilearn.image import resample_img

    if img.shape[:3] != mask.shape or not np.allclose(img.affine, affine):
        img = resample_img(img, target_affine=affine, target_shape=mask.shape, interpolation=interpolation,
                           force_resample=True, copy_header=True)
    return np.asarray(img.dataobj)[np.asarray(mask, dtype=bool)]


@dataclass(frozen=True)
class LabelAtlas:
    """An integer label image and the name of each label (0 = background).

    Attributes
    ----------
    name : str
    image : nibabel image (3D, integer labels)
    labels : dict of int to str
    """

    name: str
    image: nib.spatialimages.SpatialImage
    labels: dict[int, str]

    @classmethod
    def from_files(cls, image: str | Path, labels: str | Path, *, name: str | None = None) -> LabelAtlas:
        """Read a label image and its names: a text file with one name per line (line i = label i, from 1;
        a first line "Background" is skipped) or a CSV/TSV with columns ``index`` and ``name``."""
        image, labels = Path(image), Path(labels)
        img = _load_image(image, "atlas image")
        if not labels.is_file():
            raise DataError(f"atlas labels {str(labels)!r} do not exist.")
        if labels.suffix in (".csv", ".tsv"):
            table = pd.read_csv(labels, sep="\t" if labels.suffix == ".tsv" else ",")
            if not {"index", "name"} <= set(table.columns):
                raise DataError(f"{labels} needs columns 'index' and 'name'; it has {list(table.columns)}.")
            names = dict(zip(table["index"].astype(int), table["name"].astype(str), strict=True))
        else:
            lines = [line.strip() for line in labels.read_text().splitlines() if line.strip()]
            if lines and lines[0].lower() == "background":
                lines = lines[1:]
            names = {i + 1: line for i, line in enumerate(lines)}
        found = {int(v) for v in np.unique(np.asarray(img.dataobj))} - {0}
        missing = sorted(found - set(names))
        if missing:
            raise DataError(f"{image.name} has labels {missing[:10]} that {labels.name} does not name.")
        return cls(name or image.name.split(".")[0], img, names)

    def describe(self, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str], *,
                 top: int = 3) -> pd.DataFrame:
        """Share of each FBN's positive, peak-scaled mass inside each label, best first."""
        maps = _positive_unit_peak(_check_maps(maps, mask))
        labels = np.rint(_on_grid(self.image, mask, affine, "nearest")).astype(int)
        keys = sorted(self.labels)
        total = maps.sum(axis=1, keepdims=True)
        mass = np.column_stack([maps[:, labels == key].sum(axis=1) for key in keys])
        share = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
        share[share <= 0] = np.nan
        return rank_terms(share, [self.labels[k] for k in keys], self.name, names, top)


@dataclass(frozen=True)
class TermMaps:
    """Meta-analytic term maps (one per term), scored by spatial correlation with each FBN map.

    Attributes
    ----------
    terms : tuple of str
    paths : tuple of Path
    name : str
    """

    terms: tuple[str, ...]
    paths: tuple[Path, ...]
    name: str = "terms"

    @classmethod
    def from_directory(cls, directory: str | Path, *, name: str = "terms", grayordinates: bool = False) -> TermMaps:
        """Every ``*.nii`` / ``*.nii.gz`` of a directory (``*.dscalar.nii`` with ``grayordinates``); the term is the
        file name without its extension and with ``_`` as spaces (``face_recognition.nii.gz`` -> "face recognition")."""
        directory = Path(directory)
        if not directory.is_dir():
            raise DataError(f"term map directory {str(directory)!r} does not exist.")
        paths = tuple(sorted(p for p in directory.iterdir()  # CIFTI dense scalars are .nii too: one or the other
                             if p.name.endswith((".nii", ".nii.gz")) and p.name.endswith(".dscalar.nii") == grayordinates))
        if not paths:
            kind = ".dscalar.nii (CIFTI grayordinate)" if grayordinates else ".nii or .nii.gz"
            raise DataError(f"{directory} holds no {kind} term maps.")
        terms = tuple(re.sub(r"(\.dscalar)?\.nii(\.gz)?$", "", p.name).replace("_", " ") for p in paths)
        return cls(terms, paths, name)

    def describe(self, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str], *,
                 top: int = 3) -> pd.DataFrame:
        """Spatial Pearson correlation of each FBN map with each term map (resampled to the FBN grid)."""
        maps = _check_maps(maps, mask)
        values = []
        for path in self.paths:
            img = _load_image(path, "term map")
            if len(img.shape) > 3 and img.shape[3] > 1:
                raise DataError(f"term map {path.name} is 4D ({img.shape}); give one 3D map per term.")
            data = _on_grid(nib.funcs.squeeze_image(img), mask, affine, "continuous").astype(np.float64)
            values.append(np.nan_to_num(data))
        return rank_terms(_spatial_r(maps, np.asarray(values)), list(self.terms), self.name, names, top)

    def describe_grayordinates(self, maps: np.ndarray, models: object, keep: np.ndarray, names: Sequence[str], *,
                               top: int = 3) -> pd.DataFrame:
        """Spatial Pearson correlation of each FBN map with each CIFTI term map (``*.dscalar.nii``, one map each).

        Parameters
        ----------
        maps : ndarray of shape (n_fbns, n_kept)
        models : nibabel BrainModelAxis
            Every grayordinate of the data (e.g. ``PreparedStore.brain_models(all_columns=True)``); each term map
            must have exactly these brain models.
        keep : ndarray of bool, shape (models.size,)
            The grayordinates the maps cover.
        names : sequence of str
        top : int, default=3
        """
        from syncact.brain.cifti import read_brain_models

        keep = np.asarray(keep, dtype=bool)
        maps = np.asarray(maps, dtype=np.float64)
        if maps.ndim != 2 or maps.shape[1] != int(keep.sum()):
            raise ShapeError(f"maps must be (n_fbns, {int(keep.sum())}), got {maps.shape}.")
        values = []
        for path in self.paths:
            if read_brain_models(path) != models:
                raise DataError(f"term map {str(path)!r} is on other grayordinates than the data; resample it to the "
                                "data's brain models (e.g. HCP fsLR 32k) first.")
            data = np.asarray(nib.load(path).get_fdata(), dtype=np.float64)
            if data.shape[0] != 1:
                raise DataError(f"term map {path.name} holds {data.shape[0]} maps; give one map per term.")
            values.append(np.nan_to_num(data[0, keep]))
        return rank_terms(_spatial_r(maps, np.asarray(values)), list(self.terms), self.name, names, top)


def _spatial_r(maps: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Pearson r of every map (n_maps, V) with every term map (n_terms, V): (n_maps, n_terms), NaN where constant."""
    a = maps - maps.mean(axis=1, keepdims=True)
    b = terms - terms.mean(axis=1, keepdims=True)
    denom = np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None]
    return np.divide(a @ b.T, denom, out=np.full(denom.shape, np.nan), where=denom > 0)


def read_label_file(path: str | Path) -> pd.DataFrame:
    """A user's label CSV as strings (empty cells stay empty strings)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {str(path)!r} does not exist.")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"label file {path} is not a readable CSV ({exc}).") from exc


def user_labels(source: str | Path | pd.DataFrame, units: Sequence[str], *, column: str) -> pd.DataFrame:
    """Labels the user wrote: a CSV with a ``column`` naming the unit (``fbn`` or ``filter``) and ``label``.

    Several rows per unit keep their order as ranks; ``score`` is NaN. Units not in ``units`` are an error
    (a typo would silently label nothing).
    """
    where = "the label table" if isinstance(source, pd.DataFrame) else str(source)
    table = source if isinstance(source, pd.DataFrame) else read_label_file(source)
    if not {column, "label"} <= set(table.columns):
        raise DataError(f"{where} needs columns '{column}' and 'label'; it has {list(table.columns)}.")
    unknown = sorted(set(table[column]) - set(units))
    if unknown:
        raise ConfigError(f"{where} names {unknown[:5]} which are not among the {len(units)} units "
                          f"(e.g. {list(units)[:3]}).")
    table = table[table["label"].str.strip() != ""]
    ranks = table.groupby(column).cumcount() + 1
    return pd.DataFrame({"unit": table[column].to_numpy(), "source": "labels", "rank": ranks.to_numpy(),
                         "term": table["label"].to_numpy(), "score": np.nan}, columns=COLUMNS)
