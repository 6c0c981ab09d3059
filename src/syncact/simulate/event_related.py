"""A simulated event-related RSA experiment in which chosen regions encode chosen network layers.

The second seed's test bed: images are shown one at a time (each repeated, random order, several runs);
each planted region's voxel responses to the images are random linear read-outs of one layer's
activations to those images, so the region's RDM is (up to the read-out noise) that layer's RDM; all
other voxels respond with noise only. Running the same experiment with natural images and with
synthesised layer-orthogonal images (or analysing the natural run with residual RDMs) shows how
selectively searchlight RSA maps each layer back to its region.

Read-out (per region r encoding layer l): the layer's activations to the N images, each image's
pattern centred and scaled to unit norm (so that the read-out preserves the correlation-distance
geometry), are ``Z = U S V^T``; the region's patterns are ``U S G`` with ``G`` Gaussian (N x voxels),
the same distribution as ``Z W`` for a Gaussian read-out ``W`` of every unit, computed in N dimensions.
All responses of a region are scaled by one number to unit standard deviation, times ``amplitude``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from syncact._validation import check_positive
from syncact.exceptions import ConfigError, DataError


@dataclass(frozen=True)
class PlantedRegion:
    """A sphere of the brain that encodes one layer.

    Attributes
    ----------
    name : str
    layer : str
    center_mm : tuple of 3 float
        MNI coordinates of the centre.
    radius_mm : float
    """

    name: str
    layer: str
    center_mm: tuple[float, float, float]
    radius_mm: float = 10.0


# Four visual regions, posterior to anterior, for the four blocks of a CNN (early to late).
DEFAULT_REGIONS = (
    PlantedRegion("occipital_pole", "block1", (8.0, -92.0, 2.0)),
    PlantedRegion("lateral_occipital_left", "block2", (-34.0, -84.0, -4.0)),
    PlantedRegion("lateral_occipital_right", "block3", (42.0, -70.0, -8.0)),
    PlantedRegion("ventral_temporal_left", "block4", (-38.0, -48.0, -20.0)),
)


@dataclass
class EventRelatedData:
    """A simulated event-related experiment.

    Attributes
    ----------
    run_imgs : list of nibabel.Nifti1Image
        4-D BOLD runs on the mask's grid.
    events : list of DataFrame
        ``onset``, ``duration``, ``trial_type`` (image name) per run.
    t_r : float
    mask_img : nibabel.Nifti1Image
    names : list of str
        Image names, in the order of the planted patterns.
    patterns : ndarray of shape (n_images, n_voxels)
        The planted (noise-free) response of every mask voxel to every image.
    region_labels : ndarray of int, shape (n_voxels,)
        Index into ``regions`` of the region each mask voxel belongs to; -1 outside every region.
    regions : list of PlantedRegion
    params : dict
    """

    run_imgs: list
    events: list[pd.DataFrame]
    t_r: float
    mask_img: object
    names: list[str]
    patterns: np.ndarray
    region_labels: np.ndarray
    regions: list[PlantedRegion]
    params: dict[str, object] = field(default_factory=dict)

    def write(self, root: str | Path, subject: str = "01", task: str = "images") -> Path:
        """Write the runs and events as BIDS (``sub-XX/func``) plus ``derivatives/ground_truth``; refuses a non-empty root."""
        from nilearn.masking import unmask

        from syncact._io import atomic_path, write_csv, write_json

        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise FileExistsError(f"{str(root)!r} is not empty; choose a new folder.")
        func = root / f"sub-{subject}" / "func"
        for i, (img, events) in enumerate(zip(self.run_imgs, self.events, strict=True), 1):
            stem = f"sub-{subject}_task-{task}_run-{i}"
            with atomic_path(func / f"{stem}_bold.nii.gz") as tmp:
                img.to_filename(tmp)
            write_csv(func / f"{stem}_events.tsv", events, sep="\t")
        write_json(root / "dataset_description.json", {"Name": "syncact simulated event-related RSA", "BIDSVersion": "1.8.0"})
        write_json(root / f"task-{task}_bold.json", {"RepetitionTime": self.t_r, "TaskName": task})
        truth = root / "derivatives" / "ground_truth"
        with atomic_path(truth / "mask.nii.gz") as tmp:
            self.mask_img.to_filename(tmp)
        write_csv(truth / "regions.tsv", pd.DataFrame([{"region": r.name, "layer": r.layer, "x": r.center_mm[0],
                                                        "y": r.center_mm[1], "z": r.center_mm[2], "radius_mm": r.radius_mm}
                                                       for r in self.regions]), sep="\t")
        with atomic_path(truth / "regions.nii.gz") as tmp:
            unmask((self.region_labels + 1).astype(np.int16), self.mask_img).to_filename(tmp)
        write_json(truth / "params.json", {**self.params, "images": self.names})
        return root


def readout_patterns(features: np.ndarray, n_voxels: int, rng: np.random.Generator) -> np.ndarray:
    """Voxel responses that are a random linear read-out of ``features``: (n_images, n_voxels), unit std overall.

    Parameters
    ----------
    features : ndarray of shape (n_images, n_features)
        One layer's activations to the images.
    n_voxels : int
    rng : numpy.random.Generator
    """
    z = np.asarray(features, dtype=np.float64)
    z = z - z.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise DataError("an image gives a constant activation pattern in this layer; its read-out is undefined.")
    z = z / norms
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    out = (u * s) @ rng.standard_normal((s.size, n_voxels))
    return out / out.std()  # one scale for all voxels: centring or scaling voxels one by one would bend the geometry


def _schedule(names: Sequence[str], repeats: int, isi: float, duration: float, lead: float,
              rng: np.random.Generator) -> pd.DataFrame:
    order = np.concatenate([rng.permutation(len(names)) for _ in range(repeats)])
    jitter = rng.uniform(0, isi / 2, order.size)
    onsets = lead + np.arange(order.size) * isi + jitter
    return pd.DataFrame({"onset": np.round(onsets, 3), "duration": duration, "trial_type": [names[i] for i in order]})


def simulate_event_related(layer_features: Mapping[str, np.ndarray], names: Sequence[str], *,
                           regions: Sequence[PlantedRegion] = DEFAULT_REGIONS, mask_img: object | None = None,
                           n_runs: int = 2, repeats: int = 3, t_r: float = 2.0, isi: float = 4.0, duration: float = 1.0,
                           amplitude: float = 1.0, noise: float = 1.0, seed: int = 0) -> EventRelatedData:
    """Simulate BOLD runs of an event-related image experiment with planted layer-encoding regions.

    Parameters
    ----------
    layer_features : mapping of layer name to ndarray of shape (n_images, n_features)
        Each layer's activations to the images (:func:`syncact.ann.probe.layer_patterns`).
    names : sequence of str
        Image names, in the rows' order.
    regions : sequence of PlantedRegion, default=DEFAULT_REGIONS
    mask_img : NIfTI image, optional
        Grid and voxels (default: nilearn's MNI152 brain mask at 4 mm).
    n_runs : int, default=2
    repeats : int, default=3
        Presentations of each image per run (random order).
    t_r : float, default=2.0
    isi : float, default=4.0
        Mean time between onsets is ``isi * 1.25`` (uniform jitter of up to ``isi / 2``).
    duration : float, default=1.0
        Seconds each image is on.
    amplitude : float, default=1.0
        Standard deviation over images of a region voxel's response (in units of the noise's).
    noise : float, default=1.0
        Standard deviation of the white measurement noise per volume.
    seed : int, default=0

    Returns
    -------
    EventRelatedData
    """
    import nibabel as nib
    from nilearn.glm.first_level import make_first_level_design_matrix
    from nilearn.image import load_img

    from syncact.brain.masking import voxel_coordinates

    names = list(names)
    if mask_img is None:
        from nilearn.datasets import load_mni152_brain_mask

        mask_img = load_mni152_brain_mask(resolution=4)
    mask_img = load_img(mask_img)
    check_positive("n_runs", n_runs, integer=True)
    check_positive("repeats", repeats, integer=True)
    check_positive("t_r", t_r)
    check_positive("noise", noise)
    for region in regions:
        if region.layer not in layer_features:
            raise ConfigError(f"region {region.name!r} encodes layer {region.layer!r}, which has no features; "
                              f"give features for {sorted(layer_features)}.")
        if len(layer_features[region.layer]) != len(names):
            raise ConfigError(f"layer {region.layer!r} has {len(layer_features[region.layer])} images but {len(names)} names.")
    rng = np.random.default_rng(seed)
    mask = np.asarray(mask_img.dataobj) > 0
    coords = voxel_coordinates(mask, mask_img.affine)
    labels = np.full(coords.shape[0], -1)
    patterns = np.zeros((len(names), coords.shape[0]))
    for k, region in enumerate(regions):
        inside = np.linalg.norm(coords - np.asarray(region.center_mm), axis=1) <= region.radius_mm
        inside &= labels < 0
        if inside.sum() < 5:
            raise DataError(f"region {region.name!r} holds {int(inside.sum())} mask voxels: move its centre inside the mask.")
        labels[inside] = k
        patterns[:, inside] = amplitude * readout_patterns(layer_features[region.layer], int(inside.sum()), rng)
    n_events = len(names) * repeats
    lead, tail = 10.0, 16.0
    n_scans = int(np.ceil((lead + n_events * isi * 1.25 + tail) / t_r))
    frame_times = np.arange(n_scans) * t_r
    run_imgs, events = [], []
    for _ in range(n_runs):
        table = _schedule(names, repeats, isi, duration, lead, rng)
        coded = table.assign(trial_type=table["trial_type"].map({n: f"c{i}" for i, n in enumerate(names)}))
        design = make_first_level_design_matrix(frame_times, coded, hrf_model="glover", drift_model=None)
        x = design[[f"c{i}" for i in range(len(names))]].to_numpy()
        bold = 100 + x @ patterns + noise * rng.standard_normal((n_scans, coords.shape[0]))
        data = np.zeros(mask.shape + (n_scans,), dtype=np.float32)
        data[mask] = bold.T.astype(np.float32)
        run_imgs.append(nib.Nifti1Image(data, mask_img.affine))
        events.append(table)
    params = {"n_runs": n_runs, "repeats": repeats, "t_r": t_r, "isi": isi, "duration": duration, "amplitude": amplitude,
              "noise": noise, "seed": seed, "n_scans": n_scans}
    return EventRelatedData(run_imgs, events, float(t_r), mask_img, names, patterns, labels, list(regions), params)
