"""The embedded naturalistic dataset: movies of real photos, simulated BOLD with planted networks, BIDS.

Two spaces (:mod:`syncact.simulate.spaces`): the MNI152 4 mm volume (default, BIDS) or the fsLR 32k cortical
grayordinates (``space="fsLR32k"``: CIFTI-2 dense time series in the HCP layout, networks in real Yeo 2011
networks and Glasser areas, ground truth as ``planted_maps.dscalar.nii`` and ``term_maps/*.dscalar.nii``).

Layout written under ``root`` (volume)::

    dataset_description.json  participants.tsv  task-movie_bold.json  README
    stimuli/task-movie_run-<r>.mp4
    sub-<s>/func/sub-<s>_task-movie_run-<r>_bold.nii.gz  (+ .json sidecar with RepetitionTime)
    derivatives/ground_truth/
        dataset_description.json  ground_truth.json  networks.tsv  planted_maps.nii.gz
        run-<r>_drivers.tsv                  stimulus drivers and their expected BOLD
        sub-<s>/sub-<s>_run-<r>_timecourses.tsv  every planted time course of that run

Stimulus-driven networks are planted from a CNN other than the ones the demo analyses
(EfficientNet-Lite2 by default), so recovering them is a test and not an identity.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_positive
from syncact.ann import default_cache_dir, extract_activations, get_model
from syncact.exceptions import ConfigError
from syncact.simulate.bold import (
    DEFAULT_NETWORKS,
    SURFACE_NETWORKS,
    NetworkSpec,
    bold_timecourse,
    simulate_run,
    spontaneous_timecourse,
    zscore,
)
from syncact.simulate.movie import make_movie
from syncact.simulate.spaces import get_space
from syncact.stimulus import Frames, sync_frames
from syncact.stimulus.features import luminance, motion_energy

logger = logging.getLogger(__name__)

TASK = "movie"
FRAME_SIZE = (256, 180)


@dataclass
class SimulatedDataset:
    """What :func:`make_dataset` wrote and planted.

    Attributes
    ----------
    root : Path
        BIDS root.
    movies : dict of int to Path
        Movie of each run.
    tr : float
    n_timepoints : int
        Volumes per run.
    subjects : list of str
    networks : DataFrame
        One row per planted network: name, kind, driver, filter (``model:layer:index`` for CNN drivers).
    maps : ndarray of shape (n_networks, n_features)
        Group-level planted maps inside ``mask`` (volume) or on the cortical grayordinates.
    mask : ndarray of bool or None
        The MNI152 4 mm brain mask on the data grid (None on grayordinates).
    drivers : dict of int to DataFrame
        Per run, the raw stimulus drivers (columns named after the networks).
    space : {"MNI152", "fsLR32k"}
    runs : dict of (subject, run) to Path
        Every BOLD file written.
    """

    root: Path
    movies: dict[int, Path]
    tr: float
    n_timepoints: int
    subjects: list[str]
    networks: pd.DataFrame
    maps: np.ndarray
    mask: np.ndarray | None
    drivers: dict[int, pd.DataFrame] = field(default_factory=dict)
    space: str = "MNI152"
    runs: dict[tuple[str, int], Path] = field(default_factory=dict)


def choose_filter(acts: np.ndarray, exclude: list[np.ndarray], rng: np.random.Generator, *, max_r: float = 0.3) -> int:
    """A filter with strong temporal variation that is not a copy of the low-level drivers.

    Among filters whose |r| with every series in ``exclude`` is below ``max_r``, one of the five with
    the largest coefficient of variation is drawn.
    """
    std = acts.std(axis=0)
    cv = std / (np.abs(acts.mean(axis=0)) + 1e-6)
    ok = std > 1e-6
    za = np.where(ok, (acts - acts.mean(axis=0)) / np.where(ok, std, 1), 0)
    for series in exclude:
        r = za.T @ zscore(series) / len(series)
        ok &= np.abs(r) < max_r
    candidates = np.flatnonzero(ok)
    if candidates.size == 0:
        raise ConfigError("no filter of the planting model is independent enough of luminance and motion on this movie.")
    top = candidates[np.argsort(cv[candidates])[::-1][:5]]
    return int(rng.choice(top))


def make_dataset(
    root: str | Path,
    *,
    n_subjects: int = 10,
    n_runs: int = 2,
    n_timepoints: int = 200,
    tr: float = 1.0,
    networks: tuple[NetworkSpec, ...] | None = None,
    space: str = "MNI152",
    plant_model: str = "efficientnet_lite2",
    amplitude: float = 2.0,
    noise_std: float = 1.0,
    noise_phi: float = 0.3,
    drift_std: float = 1.0,
    jitter_mm: float = 2.0,
    fps: float = 12.0,
    seed: int = 0,
    cache: str | Path | None = "default",
    progress: bool = False,
) -> SimulatedDataset:
    """Generate the embedded naturalistic fMRI dataset as BIDS with its ground truth.

    Parameters
    ----------
    root : str or Path
        Output folder; must not exist yet or be empty (nothing is overwritten).
    n_subjects, n_runs, n_timepoints : int
        Dataset size (default 10 subjects x 2 runs x 200 volumes).
    tr : float, default=1.0
        Repetition time in seconds (HCP 7T uses 1 s).
    networks : tuple of NetworkSpec, optional
        Planted networks (default: 4 stimulus-driven, 3 spontaneous: :data:`~syncact.simulate.bold.DEFAULT_NETWORKS`,
        or :data:`~syncact.simulate.bold.SURFACE_NETWORKS` on grayordinates).
    space : {"MNI152", "fsLR32k"}, default="MNI152"
        The MNI152 4 mm volume (BIDS NIfTI runs) or the 59,412 cortical grayordinates of the HCP standard (CIFTI-2
        dense time series in the HCP layout; :mod:`syncact.simulate.spaces`).
    plant_model : str, default="efficientnet_lite2"
        CNN whose filters drive the ``cnn:<layer>`` networks (ImageNet weights).
    amplitude : float, default=2.0
        Percent signal change at a network's peak per unit of its z-scored time course.
    noise_std, noise_phi : float
        Voxel noise in percent and its lag-1 autocorrelation.
    drift_std : float
        Slow drift per cosine term, in percent.
    jitter_mm : float, default=2.0
        Per-subject standard deviation of each blob centre (volume); on grayordinates, the s.d. of each subject's
        smooth multiplicative field is ``0.1 * jitter_mm``.
    fps : float, default=12.0
        Movie frame rate.
    seed : int, default=0
        Everything is determined by it.
    cache : str, Path or None, default="default"
        Activation cache for the planting CNN ("default": :func:`syncact.ann.default_cache_dir`; None: off).
    progress : bool, default=False

    Returns
    -------
    SimulatedDataset
    """
    for name, value in (("n_subjects", n_subjects), ("n_runs", n_runs), ("n_timepoints", n_timepoints)):
        check_positive(name, value, integer=True)
    check_positive("tr", tr)
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{str(root)!r} exists and is not empty; choose a new folder (nothing is overwritten).")
    grid = get_space(space)
    if networks is None:
        networks = SURFACE_NETWORKS if grid.name == "fsLR32k" else DEFAULT_NETWORKS
    rng = np.random.default_rng(seed)
    subjects = [f"{i + 1:02d}" if grid.name == "MNI152" else f"sim{i + 1:02d}" for i in range(n_subjects)]
    runs = list(range(1, n_runs + 1))

    # 1. Movies and their per-TR frames.
    movies: dict[int, Path] = {}
    frames: dict[int, Frames] = {}
    for run in runs:
        movies[run] = root / "stimuli" / f"task-{TASK}_run-{run}.mp4"
        make_movie(movies[run], n_timepoints * tr + 1.0, fps=fps, size=FRAME_SIZE, seed=seed * 1000 + run, progress=progress)
        frames[run] = sync_frames(movies[run], tr, n_timepoints, size=FRAME_SIZE)

    # 2. Stimulus drivers.
    raw: dict[int, dict[str, np.ndarray]] = {run: {"luminance": luminance(frames[run].images),
                                                    "motion": motion_energy(frames[run].images)} for run in runs}
    cnn_layers = sorted({n.driver.split(":", 1)[1] for n in networks if n.driver.startswith("cnn:")})
    chosen: dict[str, int] = {}
    if cnn_layers:
        model = get_model(plant_model, "imagenet")
        store = default_cache_dir() if cache == "default" else cache
        # the planted truth comes from the network as published, not from the extraction engine's inference copy
        # (folded batch norms, moved paddings, in-place activations change activations by ~1e-6 and would move a
        # marginal choice of filter): the dataset does not change when the engine is made faster
        acts = {run: extract_activations(frames[run].images, model, cnn_layers, cache=store, progress=progress,
                                         fold_bn=False, batch_size=32) for run in runs}
        low = [np.concatenate([raw[run][k] for run in runs]) for k in ("luminance", "motion")]
        for layer in cnn_layers:
            both = np.concatenate([acts[run].layers[layer] for run in runs])
            chosen[layer] = choose_filter(both, low, rng)
            for run in runs:
                raw[run][f"cnn:{layer}"] = acts[run].layers[layer][:, chosen[layer]].astype(np.float64)

    # 3. Per-subject maps, amplitudes, baselines.
    group_maps = grid.group_maps(networks)
    subject_maps, subject_amps, baselines = {}, {}, {}
    for sub in subjects:
        subject_maps[sub] = grid.subject_maps(networks, rng, jitter_mm)
        subject_amps[sub] = amplitude * rng.uniform(0.75, 1.25, size=len(networks))
        baselines[sub] = 1000.0 * rng.uniform(0.8, 1.2, size=grid.n_features)

    # 4. BOLD runs.
    gt = root / "derivatives" / "ground_truth"
    drivers: dict[int, pd.DataFrame] = {}
    expected = {}
    for run in runs:
        table = {}
        for net in networks:
            if net.kind == "stimulus":
                table[f"{net.name}_driver"] = raw[run][net.driver]
                table[f"{net.name}_bold"] = bold_timecourse(raw[run][net.driver], tr)
        drivers[run] = pd.DataFrame({net.name: raw[run][net.driver] for net in networks if net.kind == "stimulus"})
        expected[run] = table
        _tsv(gt / f"run-{run}_drivers.tsv", pd.DataFrame(table))
    jobs = [(sub, run) for sub in subjects for run in runs]
    written: dict[tuple[str, int], Path] = {}
    for sub, run in tqdm(jobs, desc="simulated BOLD", unit="run", disable=_io.bar_disabled(progress), leave=False):
        tcs = np.stack([
            expected[run][f"{net.name}_bold"] if net.kind == "stimulus" else spontaneous_timecourse(rng, n_timepoints, tr)
            for net in networks
        ], axis=1)
        matrix = simulate_run(rng, subject_maps[sub], tcs, subject_amps[sub], baselines[sub],
                              noise_std=noise_std, noise_phi=noise_phi, drift_std=drift_std)
        written[(sub, run)] = grid.run_path(root, sub, run, TASK)
        grid.write_run(written[(sub, run)], matrix, tr, TASK)
        _tsv(gt / f"sub-{sub}" / f"sub-{sub}_run-{run}_timecourses.tsv",
                   pd.DataFrame(tcs, columns=[n.name for n in networks]))

    # 5. Dataset metadata and ground truth.
    if grid.name == "MNI152":  # BIDS files; the HCP layout has none
        _io.write_json(root / "dataset_description.json", {
            "Name": "syncact embedded naturalistic dataset (simulated)", "BIDSVersion": "1.9.0", "DatasetType": "raw",
            "GeneratedBy": [{"Name": "syncact.simulate", "Description": f"seed={seed}"}],
        })
        _io.write_json(root / f"task-{TASK}_bold.json", {"RepetitionTime": tr, "TaskName": TASK})
        _tsv(root / "participants.tsv", pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects]}))
    _io.write_text(root / "README", f"Simulated movie-watching fMRI with planted networks ({grid.name}); see "
                   "derivatives/ground_truth.\n")
    _io.write_json(gt / "dataset_description.json", {
        "Name": "planted ground truth", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "syncact.simulate"}],
    })
    net_table = pd.DataFrame({
        "name": [n.name for n in networks],
        "kind": [n.kind for n in networks],
        "driver": [n.driver for n in networks],
        "filter": [f"{plant_model}:{n.driver[4:]}:{chosen[n.driver[4:]]}" if n.driver.startswith("cnn:") else "" for n in networks],
        "centers_mm": [json.dumps(n.centers) for n in networks],
        "parcels": [" ".join(n.parcels) for n in networks],
    })
    _tsv(gt / "networks.tsv", net_table)
    grid.write_maps(gt / f"planted_maps{grid.map_suffix}", group_maps, [n.name for n in networks])
    for i, net in enumerate(networks):  # a term-map directory as a meta-analysis that knows each region would give
        if net.term:
            grid.write_maps(gt / "term_maps" / f"{net.term.replace(' ', '_')}{grid.map_suffix}", group_maps[i:i + 1], [net.term])
    _io.write_json(gt / "ground_truth.json", {
        "seed": seed, "tr": tr, "n_timepoints": n_timepoints, "subjects": subjects, "runs": runs,
        "plant_model": plant_model, "plant_filters": chosen, "amplitude": amplitude, "noise_std": noise_std,
        "noise_phi": noise_phi, "drift_std": drift_std, "jitter_mm": jitter_mm, "fps": fps,
        "movies": {run: str(path.relative_to(root)) for run, path in movies.items()}, "space": grid.name,
    })
    logger.info("simulated dataset written to %s", root)
    return SimulatedDataset(root, movies, tr, n_timepoints, subjects, net_table, group_maps, getattr(grid, "mask", None),
                            drivers, grid.name, written)


def _tsv(path: Path, table: pd.DataFrame) -> None:
    _io.write_csv(path, table, sep="\t")


def load_ground_truth(root: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Planted networks table, their group maps (n_networks, n_features) and the 3D mask (None on grayordinates,
    whose maps cover the dataset's cortical grayordinates in order)."""
    gt = Path(root) / "derivatives" / "ground_truth"
    networks = pd.read_csv(gt / "networks.tsv", sep="\t", keep_default_na=False)
    if (gt / "planted_maps.dscalar.nii").is_file():
        return networks, np.asarray(nib.load(gt / "planted_maps.dscalar.nii").get_fdata(), dtype=np.float64), None
    img = nib.load(gt / "planted_maps.nii.gz")
    data = np.asarray(img.dataobj)
    mask = np.any(data != 0, axis=-1)
    return networks, data[mask].T, mask
