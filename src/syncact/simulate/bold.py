"""Simulated BOLD with planted functional networks in the MNI152 brain mask.

For subject ``s`` and run ``r`` the signal of voxel ``v`` at time ``t`` is, in percent of its baseline,

    y = sum_n amp[s, n] * map[s, n, v] * tc[n, s, r, t] + drift[v, t] + noise[v, t]

``map`` is a sum of Gaussian blobs (peak 1) at the network's MNI coordinates, each centre jittered
per subject; ``tc`` is a driver convolved with the canonical HRF and z-scored. Stimulus-driven
networks share their driver across subjects (a feature of the movie); spontaneous networks get an
independent AR(1) process per subject and run. ``noise`` is AR(1) per voxel; ``drift`` is a random
slow cosine mixture per voxel. The stored image is ``baseline * (1 + y / 100)`` as int16 with a scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syncact.sync.hrf import hrf_convolve


@dataclass(frozen=True)
class NetworkSpec:
    """A planted network.

    Attributes
    ----------
    name : str
    kind : {"stimulus", "spontaneous"}
    driver : str
        "luminance", "motion", "cnn:<layer>" (a filter of the planting CNN), or "" for spontaneous.
    centers : tuple of (x, y, z) in MNI mm
    sigma_mm : float
        Width of each blob.
    term : str
        What a meta-analysis would call the network's map; the dataset writes the map under this name
        (``derivatives/ground_truth/term_maps``) so cross-annotation can be checked against planted truth.
    parcels : tuple of str
        Where the network sits on grayordinates (``syncact.simulate.spaces.GrayordinateSpace``): real parcels,
        ``yeo7:<network>`` or ``mmp:<Glasser area>`` (both hemispheres).
    """

    name: str
    kind: str
    driver: str
    centers: tuple[tuple[float, float, float], ...] = ()
    sigma_mm: float = 9.0
    term: str = ""
    parcels: tuple[str, ...] = ()


DEFAULT_NETWORKS: tuple[NetworkSpec, ...] = (
    NetworkSpec("early_visual_luminance", "stimulus", "luminance", ((-8, -92, 2), (10, -90, 2)), term="luminance"),
    NetworkSpec("hmt_motion", "stimulus", "motion", ((-44, -72, 2), (46, -68, 2)), term="visual motion"),
    NetworkSpec("ventral_temporal_cnn_mid", "stimulus", "cnn:block3", ((-40, -52, -18), (40, -52, -18)),
                term="object recognition"),
    NetworkSpec("parietal_cnn_high", "stimulus", "cnn:last_conv", ((-28, -64, 46), (30, -62, 46)),
                term="visual attention"),
    NetworkSpec("default_mode", "spontaneous", "", ((0, -56, 30), (0, 52, 6)), term="default mode"),
    NetworkSpec("sensorimotor", "spontaneous", "", ((-38, -22, 56), (38, -22, 56)), term="motor"),
    NetworkSpec("auditory", "spontaneous", "", ((-54, -20, 8), (54, -20, 8)), term="auditory"),
)

SURFACE_NETWORKS: tuple[NetworkSpec, ...] = (
    NetworkSpec("early_visual_luminance", "stimulus", "luminance", term="luminance", parcels=("mmp:V1",)),
    NetworkSpec("hmt_motion", "stimulus", "motion", term="visual motion",
                parcels=("mmp:MT", "mmp:MST", "mmp:FST", "mmp:V4t")),
    NetworkSpec("ventral_temporal_cnn_mid", "stimulus", "cnn:block3", term="object recognition",
                parcels=("mmp:FFC", "mmp:VVC")),
    NetworkSpec("parietal_cnn_high", "stimulus", "cnn:last_conv", term="visual attention", parcels=("mmp:IPS1", "mmp:IP0")),
    NetworkSpec("default_mode", "spontaneous", "", term="default mode", parcels=("yeo7:Default",)),
    NetworkSpec("sensorimotor", "spontaneous", "", term="motor", parcels=("yeo7:Somatomotor",)),
    NetworkSpec("frontoparietal", "spontaneous", "", term="cognitive control", parcels=("yeo7:Frontoparietal",)),
)
"""The networks of the grayordinate dataset: the same drivers as :data:`DEFAULT_NETWORKS` in real Glasser areas
(V1; the MT+ complex, MT, MST, FST and V4t; the fusiform face complex and ventral visual complex; IPS1 and IP0), and three real Yeo 2011
networks with spontaneous activity."""


def network_map(coords: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of Gaussian blobs at ``centers`` (each peak 1), evaluated at ``coords``; shape (n_voxels,)."""
    d2 = ((coords[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    return np.exp(-d2 / (2 * sigma**2)).sum(axis=1)


def ar1(rng: np.random.Generator, n_timepoints: int, size: int, phi: float) -> np.ndarray:
    """Stationary AR(1) series with unit variance, shape (n_timepoints, size), float32."""
    out = np.empty((n_timepoints, size), dtype=np.float32)
    out[0] = rng.standard_normal(size, dtype=np.float32)
    scale = np.float32(np.sqrt(1 - phi**2))
    for t in range(1, n_timepoints):
        out[t] = phi * out[t - 1] + scale * rng.standard_normal(size, dtype=np.float32)
    return out


def zscore(x: np.ndarray) -> np.ndarray:
    """Z-score along axis 0."""
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(axis=0)) / x.std(axis=0)


def bold_timecourse(driver: np.ndarray, tr: float) -> np.ndarray:
    """Expected BOLD of a driver: z-scored, convolved with the Glover HRF, z-scored again."""
    return zscore(hrf_convolve(zscore(driver), tr))


def spontaneous_timecourse(rng: np.random.Generator, n_timepoints: int, tr: float, phi: float = 0.8) -> np.ndarray:
    """Spontaneous activity: slow AR(1) neural activity through the HRF, z-scored."""
    return bold_timecourse(ar1(rng, n_timepoints, 1, phi)[:, 0], tr)


def simulate_run(
    rng: np.random.Generator,
    maps: np.ndarray,
    timecourses: np.ndarray,
    amplitudes: np.ndarray,
    baseline: np.ndarray,
    *,
    noise_std: float,
    noise_phi: float,
    drift_std: float,
) -> np.ndarray:
    """One run of BOLD intensities.

    Parameters
    ----------
    rng : Generator
    maps : ndarray of shape (n_networks, n_voxels)
        The subject's network maps (peak about 1).
    timecourses : ndarray of shape (n_timepoints, n_networks)
        Z-scored network time courses.
    amplitudes : ndarray of shape (n_networks,)
        Percent signal change at a map's peak per unit of its time course.
    baseline : ndarray of shape (n_voxels,)
        Mean intensity of each voxel.
    noise_std, noise_phi : float
        Standard deviation (percent) and lag-1 autocorrelation of the voxel noise.
    drift_std : float
        Standard deviation (percent) of each of three slow cosine drift terms.

    Returns
    -------
    ndarray of shape (n_timepoints, n_voxels), float32
    """
    n_timepoints, n_voxels = timecourses.shape[0], maps.shape[1]
    signal = (timecourses * amplitudes).astype(np.float32) @ maps.astype(np.float32)
    signal += noise_std * ar1(rng, n_timepoints, n_voxels, noise_phi)
    t = (np.arange(n_timepoints) + 0.5) / n_timepoints
    basis = np.stack([np.cos(np.pi * k * t) for k in (1, 2, 3)], axis=1).astype(np.float32)
    signal += basis @ (drift_std * rng.standard_normal((3, n_voxels), dtype=np.float32))
    return baseline.astype(np.float32) * (1 + signal / 100)
