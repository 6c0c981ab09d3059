"""The whole Sync-ACT pipeline from one experiment config to a run directory.

Run directory layout::

    config.resolved.toml
    prepared.zarr/                                  the prepared runs (unless [data] prepared points elsewhere)
    frames/run-<r>.npz                              one frame per TR
    activations/<model>/run-<r>.npz                 (T, F) per layer
    brain/fbn_maps.nii.gz                           FBN spatial maps W (4D, one volume per FBN)
    brain/model.pt  brain/training.csv  brain/split.json
    brain/activations_run-<r>.csv                   test-subject mean FBN activations (T, K)
    pairing/<model>_<weights>_<layer>_run-<r>_eq{1,2}.{csv,parquet}
    tables/summary.csv  tables/models_x_runs.csv  tables/recovery.csv (simulated data)
    report/index.html
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch

from syncact import _io
from syncact.analysis import fbn_roles, models_by_runs, recovery_table
from syncact.ann import Activations, default_cache_dir, extract_activations, get_model
from syncact.ann.registry import model_key, weights_label
from syncact.brain import FBNEmbedding, RunSource, prepare_dataset, scan_dataset, split_subjects, zscore_voxels
from syncact.config import ExperimentConfig
from syncact.exceptions import ConfigError
from syncact.stimulus import Frames, sync_frames
from syncact.sync import Pairing, pair

logger = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """Everything a run produced, in memory, plus where it was written.

    Attributes
    ----------
    out_dir : Path
    summary : DataFrame
        One row per (model, weights, layer, run): mean PCC, its p-value, significance counts.
    pairings : dict
        ``(model, weights, layer, run) -> Pairing``.
    embedding : FBNEmbedding
    fbn_activations : dict of run to ndarray of shape (n_timepoints, n_fbns)
    recovery : DataFrame or None
        Recovery of planted networks when the dataset carries ``derivatives/ground_truth``.
    detection : DataFrame or None
        Per pairing, mean PCC and share of significant pairs among FBNs that carry a planted driven
        network ("driven": the power) and FBNs that carry none ("unrelated": the false positives).
    timings : dict of str to float
        Seconds per stage.
    """

    out_dir: Path
    summary: pd.DataFrame
    pairings: dict[tuple[str, str, str, str], Pairing]
    embedding: FBNEmbedding
    fbn_activations: dict[str, np.ndarray]
    split: dict[str, list[str]]
    frames: dict[str, Frames]
    activations: dict[tuple[str, str], Activations]
    recovery: pd.DataFrame | None = None
    detection: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report" / "index.html"


def _group_runs(runs: list[RunSource], config: ExperimentConfig) -> dict[str, list[RunSource]]:
    """Runs by label, each label with a movie (lengths and missing runs are checked by the layout scan)."""
    by_run: dict[str, list[RunSource]] = defaultdict(list)
    for run in runs:
        by_run[run.run].append(run)
    movies = {m.run for m in config.movies}
    missing = sorted(set(by_run) - movies)
    if missing:
        raise ConfigError(f"BOLD runs {missing} have no movie; add a [[movies]] entry with run = \"{missing[0]}\" to the config.")
    unused = sorted(movies - set(by_run))
    if unused:
        raise ConfigError(f"[[movies]] names run(s) {unused} but the dataset has runs {sorted(by_run)}.")
    return dict(sorted(by_run.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0]))


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True) -> ExperimentResult:
    """Run the Sync-ACT pipeline and write a run directory with tables, maps and an HTML report.

    Parameters
    ----------
    config : ExperimentConfig
        See :mod:`syncact.config`.
    out_dir : str or Path
        Run directory (created; files in it are replaced atomically, nothing else is touched).
    progress : bool, default=True
        Progress bars on the long stages.

    Returns
    -------
    ExperimentResult
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    _io.write_text(out / "config.resolved.toml", config.to_toml())
    torch.manual_seed(config.seed)

    tic = time.perf_counter()
    dc = config.data
    info = scan_dataset(dc.bids, layout=dc.layout, task=dc.task, space=dc.space, hcp_data=dc.hcp_data).check()
    if info.runs[0].kind != "nifti":
        raise ConfigError(f"the pipeline writes FBN maps as NIfTI and needs volume runs; {info.layout} gave "
                          f"{info.runs[0].kind} data. Use hcp_data = \"volume\" (CIFTI can be prepared with `syncact prepare`).")
    runs = info.runs
    by_run = _group_runs(runs, config)
    tr = float(info.tr)
    movies = {m.run: m for m in config.movies}
    kept = {label: _kept_rows(group[0], movies[label]) for label, group in by_run.items()}
    frames: dict[str, Frames] = {}
    for label in by_run:
        movie, (start, stop) = movies[label], kept[label]
        frames[label] = sync_frames(movie.path, tr, stop - start, offset=movie.offset + start * tr, size=config.frames.size,
                                    policy=config.frames.policy, progress=progress)
        frames[label].save(out / "frames" / f"run-{label}.npz")
    timings["frames"] = time.perf_counter() - tic

    tic = time.perf_counter()  # BOLD before the CNNs: a bad voxel fails in seconds, not after the models ran
    store = prepare_dataset(info, dc.prepared or out / "prepared.zarr", target=dc.target, resolution=dc.resolution,
                            mask="template" if dc.mask == "mni152" else dc.mask, detrend=dc.detrend,
                            high_pass=dc.high_pass or None, confounds=dc.confounds, progress=progress)
    mask_img = store.mask_img()
    mask, affine = np.asarray(mask_img.dataobj, dtype=bool), mask_img.affine
    data = {}
    for r in runs:
        start, stop = kept[r.run]
        rows = store.read(r.subject, r.run, start=start, stop=stop)
        data[(r.subject, r.run)] = rows if (start, stop) == (0, r.n_timepoints) else zscore_voxels(rows, source=str(r.path))
    split = split_subjects(sorted({r.subject for r in runs}), config.embedding.split, seed=config.seed)
    _io.write_json(out / "brain" / "split.json", split)
    timings["load_bold"] = time.perf_counter() - tic

    tic = time.perf_counter()
    activations: dict[tuple[str, str], Activations] = {}
    cache = {"none": None, "default": default_cache_dir()}.get(config.cache, config.cache)
    for spec in config.models:
        built = get_model(spec.name, spec.weights, seed=config.seed, top1_accuracy=spec.top1_accuracy)
        for label, fr in frames.items():
            acts = extract_activations(fr.images, built, spec.layers, reduce=spec.reduce, batch_size=spec.batch_size,
                                       device=config.device, precision=spec.precision, cache=cache, progress=progress)
            activations[(model_key(spec.name, spec.weights), label)] = acts
            acts.save(out / "activations" / f"{spec.name}_{weights_label(spec.weights)}" / f"run-{label}.npz")
    timings["activations"] = time.perf_counter() - tic

    tic = time.perf_counter()
    emb_cfg = config.embedding
    embedding = FBNEmbedding(emb_cfg.n_networks, temporal=emb_cfg.temporal, n_heads=emb_cfg.n_heads,
                             n_epochs=emb_cfg.n_epochs, learning_rate=emb_cfg.learning_rate,
                             batch_size=emb_cfg.batch_size, sparsity=emb_cfg.sparsity,
                             n_components=emb_cfg.n_components, seed=config.seed, device=config.device,
                             progress=progress)
    train = _segments([x for (sub, _), x in data.items() if sub in split["train"]], emb_cfg.segment_length)
    val = _segments([x for (sub, _), x in data.items() if sub in split["validation"]], emb_cfg.segment_length)
    embedding.fit(train, val or None)
    fbn_activations = {
        label: np.mean([embedding.transform(data[(sub, label)]) for sub in split["test"]], axis=0) for label in by_run
    }
    fbn_names = [f"FBN-{k:02d}" for k in range(emb_cfg.n_networks)]
    _write_maps(out / "brain" / "fbn_maps.nii.gz", embedding.maps_, mask, affine)
    with _io.atomic_path(out / "brain" / "model.pt") as tmp:
        torch.save(embedding.state_dict(), tmp)
    _io.write_csv(out / "brain" / "training.csv", embedding.history_.to_frame())
    for label, acts in fbn_activations.items():
        _io.write_csv(out / "brain" / f"activations_run-{label}.csv", pd.DataFrame(acts, columns=fbn_names))
    timings["embedding"] = time.perf_counter() - tic

    tic = time.perf_counter()
    pairings: dict[tuple[str, str, str, str], Pairing] = {}
    rows = []
    alive = {(key, label, layer): _drop_dead(filt)
             for (key, label), acts in activations.items() for layer, filt in acts.layers.items()}
    for (key, label), acts in activations.items():
        model, weights = key.split("/")
        for layer in acts.layers:
            filt, names = alive[(key, label, layer)]
            pairing = pair(fbn_activations[label], filt, fbn_names=fbn_names, filter_names=names,
                           min_shift=config.pairing.min_shift, alpha=config.pairing.alpha, hrf=config.pairing.hrf, tr=tr)
            pairings[(model, weights, layer, label)] = pairing
            stem = out / "pairing" / f"{model}_{weights}_{layer}_run-{label}"
            for eq, table in (("eq2", pairing.eq2), ("eq1", pairing.eq1)):
                _io.write_csv(stem.with_name(stem.name + f"_{eq}.csv"), table)
                with _io.atomic_path(stem.with_name(stem.name + f"_{eq}.parquet")) as tmp:
                    table.to_parquet(tmp, index=False)
            row = {"model": model, "weights": weights, "layer": layer, "run": label,
                   "top1_accuracy": acts.meta.get("top1_accuracy"), **pairing.summary()}
            row.update(_mismatched_movie_control(label, key, layer, fbn_activations, alive, config, tr))
            rows.append(row)
    summary = pd.DataFrame(rows)
    _io.write_csv(out / "tables" / "summary.csv", summary)
    _io.write_csv(out / "tables" / "models_x_runs.csv", models_by_runs(summary), index=True)
    timings["pairing"] = time.perf_counter() - tic

    recovery = detection = None
    found = _recovery(config.data.bids, mask, embedding, fbn_activations, pairings, kept)
    if found is not None:
        recovery, detection = found
        _io.write_csv(out / "tables" / "recovery.csv", recovery)
        _io.write_csv(out / "tables" / "detection.csv", detection)

    result = ExperimentResult(out, summary, pairings, embedding, fbn_activations, split, frames, activations,
                              recovery, detection, timings)
    tic = time.perf_counter()
    from syncact.report import write_report

    write_report(result, config, mask=mask, affine=affine)
    timings["report"] = time.perf_counter() - tic
    return result


def _kept_rows(run: RunSource, movie) -> tuple[int, int]:  # noqa: ANN001 - MovieConfig
    """Rows of a run that the movie covers, after ``drop_start``/``drop_end``."""
    start, stop = movie.drop_start, run.n_timepoints - movie.drop_end
    if stop - start < 3:
        raise ConfigError(f"run {run.run} has {run.n_timepoints} volumes; drop_start={movie.drop_start} and "
                          f"drop_end={movie.drop_end} leave {max(stop - start, 0)}. Check [[movies]] for run {run.run}.")
    return start, stop


def _segments(runs: list[np.ndarray], length: int | None) -> list[np.ndarray]:
    """Runs cut into pieces of ``length`` volumes (the remainder is left out); whole runs when None."""
    if length is None:
        return runs
    pieces = [x[s : s + length] for x in runs for s in range(0, x.shape[0] - length + 1, length)]
    if runs and not pieces:
        raise ConfigError(f"segment_length={length} is longer than every run ({max(x.shape[0] for x in runs)} volumes).")
    return pieces


def _mismatched_movie_control(
    label: str,
    key: str,
    layer: str,
    fbn_activations: dict[str, np.ndarray],
    alive: dict[tuple[str, str, str], tuple[np.ndarray, list[str]]],
    config: ExperimentConfig,
    tr: float,
) -> dict[str, object]:
    """Pair the FBNs of run ``label`` with the filters of the next run's movie: a null with real autocorrelation.

    Nothing links a run's brain activity to another movie, so the share of significant pairs here
    estimates the false-positive rate of the whole pipeline. Empty with a single run.
    """
    labels = list(fbn_activations)
    if len(labels) < 2:
        return {}
    other = labels[(labels.index(label) + 1) % len(labels)]
    filt, _ = alive[(key, other, layer)]
    n = min(len(filt), len(fbn_activations[label]))
    control = pair(fbn_activations[label][:n], filt[:n], min_shift=config.pairing.min_shift,
                   alpha=config.pairing.alpha, hrf=config.pairing.hrf, tr=tr)
    return {"control_movie_run": other, "control_mean_pcc": control.mean_pcc,
            "control_n_significant": int(control.eq2["significant"].sum())}


def _drop_dead(filters: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Remove filters that never vary over the movie (their correlation is undefined); keep their indices as names."""
    alive = filters.std(axis=0) > 1e-8
    if not alive.all():
        logger.info("%d of %d filters are constant over the movie and are left out of the pairing.", (~alive).sum(), alive.size)
    return filters[:, alive], [f"filter-{j}" for j in np.flatnonzero(alive)]


def _write_maps(path: Path, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> None:
    volume = np.zeros((*mask.shape, maps.shape[0]), dtype=np.float32)
    volume[mask] = maps.T
    with _io.atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(volume, affine), tmp)


def _recovery(bids: Path, mask: np.ndarray, embedding: FBNEmbedding, fbn_activations: dict[str, np.ndarray],
              pairings: dict[tuple[str, str, str, str], Pairing],
              kept: dict[str, tuple[int, int]]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Recovery of planted networks and the pairing's power / false positives, when ground truth exists."""
    gt = Path(bids) / "derivatives" / "ground_truth"
    if not (gt / "networks.tsv").is_file():
        return None
    networks = pd.read_csv(gt / "networks.tsv", sep="\t", keep_default_na=False)
    planted = np.asarray(nib.load(gt / "planted_maps.nii.gz").dataobj)
    if planted.shape[:3] != mask.shape:
        logger.warning("ground truth maps are on another grid; recovery is not computed.")
        return None
    bold = {label: pd.read_csv(gt / f"run-{label}_drivers.tsv", sep="\t").iloc[slice(*kept[label])].reset_index(drop=True)
            for label in fbn_activations if (gt / f"run-{label}_drivers.tsv").is_file()}
    if not bold:
        return None
    recovery = recovery_table(networks, planted[mask].T, embedding.maps_, bold, fbn_activations)
    roles = fbn_roles(bold, fbn_activations)
    rows = []
    for (model, weights, layer, label), pairing in pairings.items():
        sig = pairing.eq2["significant"].to_numpy()
        pcc = pairing.eq2["pcc"].to_numpy()
        for role in ("driven", "unrelated"):
            chosen = (roles["role"] == role).to_numpy()
            rows.append({"model": model, "weights": weights, "layer": layer, "run": label, "fbn_role": role,
                         "n_fbns": int(chosen.sum()),
                         "mean_pcc": float(pcc[chosen].mean()) if chosen.any() else np.nan,
                         "share_significant": float(sig[chosen].mean()) if chosen.any() else np.nan})
    return recovery, pd.DataFrame(rows)
