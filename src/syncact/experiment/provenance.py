"""What a reader needs to reproduce a run: versions, the configuration's hash, the inputs' keys, the command,
wall time and peak memory. Written to ``provenance.json`` in the run directory and shown by the report."""

from __future__ import annotations

import hashlib
import platform
import resource
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from syncact.brain import PreparedStore

PACKAGES = ("numpy", "scipy", "pandas", "torch", "torchvision", "scikit-learn", "nilearn", "nibabel", "av", "zarr",
            "timm", "efficientnet-lite-pytorch", "dask", "jinja2")
"""Dependencies whose versions a run records (those installed)."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package; packages that are not installed are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def peak_memory_gb() -> tuple[float, float]:
    """Peak resident memory (GB of 1024**3 bytes, as the CLI and the benchmarks print it) of this process and of
    its largest finished child process."""
    unit = 1024**3 if sys.platform == "darwin" else 1024**2  # ru_maxrss is bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / unit
    return own, children


@dataclass
class Provenance:
    """A run's provenance.

    Attributes
    ----------
    syncact : str
        Version of syncact.
    python, platform : str
    packages : dict of str to str
        Versions of the key dependencies.
    config_sha256 : str
        SHA-256 of the resolved configuration (``config.resolved.toml``).
    command : str
        The command line of the process that ran it.
    started : str
        Start time, ISO 8601 in UTC.
    wall_s : float
        Seconds from start to the report.
    peak_memory_gb, peak_memory_children_gb : float
        Peak resident memory of the process and of its largest child (e.g. a local Dask worker).
    movies : list of dict
        Per run: ``run, path, size, frames_sha256`` (the SHA-256 of the frames extracted from the movie,
        the key of every extraction).
    bold : list of dict
        Per prepared run: ``key, n_timepoints, path, size, mtime_ns`` of its source file.
    prepared : dict
        The prepared store's parameters (layout, grid, cleaning).
    n_voxels : int
        Voxels (or grayordinates) in the group voxel set.
    voxels_sha256 : str
        SHA-256 of the group voxel set.
    timings : dict of str to float
        Seconds per stage.
    """

    syncact: str
    python: str
    platform: str
    packages: dict[str, str]
    config_sha256: str
    command: str
    started: str
    wall_s: float
    peak_memory_gb: float
    peak_memory_children_gb: float
    movies: list[dict[str, object]] = field(default_factory=list)
    bold: list[dict[str, object]] = field(default_factory=list)
    prepared: dict[str, object] = field(default_factory=dict)
    n_voxels: int = 0
    voxels_sha256: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def collect_provenance(config_toml: str, movies: dict[str, tuple[str, str]], store: PreparedStore, *, started: datetime,
                       wall_s: float, timings: dict[str, float]) -> Provenance:
    """The provenance of a run that is finishing now.

    Parameters
    ----------
    config_toml : str
        The resolved configuration as written to ``config.resolved.toml``.
    movies : dict of run to (movie path, frames SHA-256)
    store : PreparedStore
    started : datetime
        When the run started (UTC).
    wall_s : float
    timings : dict of str to float

    Returns
    -------
    Provenance
    """
    key = store.content_key()
    bold = [{"key": r["key"], "n_timepoints": r["n_timepoints"], **(r["source"] or {})} for r in key["runs"]]
    shown = [{"run": run, "path": str(Path(path).resolve()), "size": Path(path).stat().st_size, "frames_sha256": sha}
             for run, (path, sha) in movies.items()]
    own, children = peak_memory_gb()
    return Provenance(
        syncact=package_versions(("syncact",)).get("syncact", "unknown"), python=platform.python_version(),
        platform=platform.platform(), packages=package_versions(),
        config_sha256=hashlib.sha256(config_toml.encode("utf-8")).hexdigest(), command=shlex.join(sys.argv),
        started=started.astimezone(UTC).isoformat(timespec="seconds"), wall_s=wall_s, peak_memory_gb=own,
        peak_memory_children_gb=children, movies=shown, bold=bold, prepared=dict(key["params"] or {}), n_voxels=store.n_features,
        voxels_sha256=str(key["voxels"]), timings=dict(timings))
