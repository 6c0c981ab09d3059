"""The run directory: where every output of a run lives, and the one writer of that layout.

Layout::

    config.resolved.toml
    prepared.zarr/                                  the prepared runs (unless [data] prepared points elsewhere)
    units/                                          finished units (``syncact units``), reused by a rerun
    frames/run-<r>.npz                              one frame per TR
    activations/<model>_<weights>/run-<r>.npz       (T, F) per layer
    brain/fbn_maps.nii.gz                           FBN spatial maps W (4D, one volume per FBN)
    brain/model.pt  brain/training.csv  brain/split.json  (model.pt / training.csv: the Sync-ACT embedding)
    brain/checkpoints/checkpoint.pt                 after every epoch; `--resume` continues from it
    brain/activations_run-<r>.csv                   test-subject mean FBN activations (T, K)
    brain/activations_subjects_run-<r>.npz          per test subject (n_subjects, T, K) and their labels
    figures/training.png                            training and validation loss per epoch
    pairing/<model>_<weights>_<layer>_run-<r>_eq{1,2}.{csv,parquet}
    tables/summary.csv  tables/models_x_runs.csv  tables/models_x_runs_eq1.csv  tables/eq1_vs_eq2.csv
    tables/layers.csv  tables/recovery.csv  tables/detection.csv (simulated data)
    tables/accuracy_regression.csv  figures/accuracy_regression.png      (>= 3 ImageNet models with top-1)
    annotation/{fbns,pairs,filters_<model>_<weights>_<layer>}.csv  tables/agreement.csv      ([annotation] only)
    tables/sweep_{fits,ablation,k_sweep,matching,recovery}.csv  tables/sweep_scores.parquet  ([sweep] only)
    sweep/maps_<method>_K<k>.nii.gz  figures/ablation.png  figures/k_sweep.png                 ([sweep] only)
    tables/encoding.csv  tables/encoding_fbns.csv  tables/encoding_truth.csv  encoding/*.nii.gz ([encoding] only)
    tables/fbn_peaks.csv  provenance.json
    report/index.html  report/cards.json

Every file is written atomically (a reader never sees half a file).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from syncact import _io
from syncact.exceptions import ConfigError


class RunDirectory:
    """Paths of a run's outputs and the writers that put them there.

    Parameters
    ----------
    root : Path
        The run directory (created by the writers as needed).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.root)!r})"

    # paths ------------------------------------------------------------------------------------------------
    @property
    def units(self) -> Path:
        return self.root / "units"

    @property
    def prepared(self) -> Path:
        return self.root / "prepared.zarr"

    @property
    def checkpoints(self) -> Path:
        return self.root / "brain" / "checkpoints"

    @property
    def report(self) -> Path:
        return self.root / "report" / "index.html"

    def frames(self, run: str) -> Path:
        return self.root / "frames" / f"run-{run}.npz"

    def activations(self, model: str, weights: str, run: str) -> Path:
        return self.root / "activations" / f"{model}_{weights}" / f"run-{run}.npz"

    def pairing(self, model: str, weights: str, layer: str, run: str, eq: str, suffix: str = ".csv") -> Path:
        return self.root / "pairing" / f"{model}_{weights}_{layer}_run-{run}_{eq}{suffix}"

    def table(self, name: str, suffix: str = ".csv") -> Path:
        return self.root / "tables" / f"{name}{suffix}"

    def figure(self, name: str) -> Path:
        return self.root / "figures" / f"{name}.png"

    def brain(self, name: str) -> Path:
        return self.root / "brain" / name

    def annotation(self, name: str) -> Path:
        return self.root / "annotation" / f"{name}.csv"

    def sweep_maps(self, method: str, k: int, suffix: str = ".nii.gz") -> Path:
        return self.root / "sweep" / f"maps_{method}_K{k}{suffix}"

    # writers ----------------------------------------------------------------------------------------------
    def claim(self, config_toml: str, *, overwrite: bool) -> None:
        """Refuse a directory that holds a run of another configuration (unless ``overwrite``), then record this one."""
        previous = self.root / "config.resolved.toml"
        if previous.is_file() and not overwrite:
            try:
                old = tomllib.loads(previous.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{str(previous)!r} cannot be read ({exc}); choose a new run directory or pass "
                                  "--overwrite.") from exc
            changed = sorted(changed_keys(old, tomllib.loads(config_toml)))
            if changed:
                raise ConfigError(f"run directory {str(self.root)!r} holds the results of another configuration "
                                  f"(changed: {', '.join(changed[:6])}); choose a new run directory, or pass --overwrite "
                                  "(run_experiment(..., overwrite=True)) to replace them.")
        _io.write_text(previous, config_toml)

    def write_table(self, name: str, table: pd.DataFrame, *, index: bool = False, parquet: bool = False) -> Path:
        """``tables/<name>.csv`` (or ``.parquet``)."""
        if parquet:
            return self._parquet(self.table(name, ".parquet"), table)
        return _io.write_csv(self.table(name), table, index=index)

    def write_csv(self, path: Path, table: pd.DataFrame) -> Path:
        """Any other table of the layout (``brain/training.csv``, ...)."""
        return _io.write_csv(path, table)

    def write_figure(self, name: str, png: bytes) -> Path:
        return _io.write_bytes(self.figure(name), png)

    def write_maps(self, path: Path, img: nib.spatialimages.SpatialImage) -> Path:
        """A NIfTI or CIFTI image (FBN maps, sweep maps, encoding maps)."""
        with _io.atomic_path(path) as tmp:
            nib.save(img, tmp)
        return path

    def write_pairing(self, model: str, weights: str, layer: str, run: str, eq2: pd.DataFrame, eq1: pd.DataFrame) -> None:
        """Both directions of one pairing, as CSV and Parquet."""
        for eq, table in (("eq2", eq2), ("eq1", eq1)):
            _io.write_csv(self.pairing(model, weights, layer, run, eq), table)
            self._parquet(self.pairing(model, weights, layer, run, eq, ".parquet"), table)

    def write_fbn_activations(self, run: str, mean: np.ndarray, per_subject: np.ndarray, subjects: list[str],
                              names: list[str]) -> None:
        """A run's test-mean FBN activations (CSV) and each test subject's (npz)."""
        _io.write_csv(self.brain(f"activations_run-{run}.csv"), pd.DataFrame(mean, columns=names))
        _io.save_npz(self.brain(f"activations_subjects_run-{run}.npz"), activations=per_subject, subjects=np.array(subjects))

    def write_annotation(self, name: str, table: pd.DataFrame) -> Path:
        return _io.write_csv(self.annotation(name), table)

    def write_json(self, path: Path, obj: object) -> Path:
        return _io.write_json(path, obj)

    @staticmethod
    def _parquet(path: Path, table: pd.DataFrame) -> Path:
        with _io.atomic_path(path) as tmp:
            table.to_parquet(tmp, index=False)
        return path


def changed_keys(old: object, new: object, where: str = "") -> list[str]:
    """Dotted keys whose values differ between two parsed TOML documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new))
                for k in changed_keys(old.get(key), new.get(key), f"{where}.{key}" if where else key)]
    return [] if old == new else [where or "(root)"]
