"""The whole Sync-ACT pipeline from one experiment config to a run directory.

Run directory layout::

    config.resolved.toml
    prepared.zarr/                                  the prepared runs (unless [data] prepared points elsewhere)
    frames/run-<r>.npz                              one frame per TR
    activations/<model>/run-<r>.npz                 (T, F) per layer
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
    report/index.html
"""

from __future__ import annotations

import json
import logging
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch

from syncact import _io
from syncact._validation import check_output_dir
from syncact.analysis import (
    Fit,
    GroundTruth,
    MethodComparison,
    accuracy_regression,
    compare_methods,
    eq1_vs_eq2,
    fbn_roles,
    fit_networks,
    layers_table,
    models_by_runs,
    recovery_table,
    shared_subspace,
)
from syncact.ann import Activations, default_cache_dir, extract_activations, get_model
from syncact.ann.registry import LOGITS, model_key, weights_label
from syncact.annotate import CrossAnnotation
from syncact.brain import (
    BrainNetworks,
    FBNEmbedding,
    PreparedStore,
    RunSource,
    Segment,
    StoreRuns,
    network_spec,
    prepare_dataset,
    scan_dataset,
    split_subjects,
)
from syncact.config import ExperimentConfig, ModelConfig, PairingConfig
from syncact.distributed import Plan, PlanResult, UnitsFailed, record_run, run_plan
from syncact.exceptions import ConfigError, CorruptFileError, DataError, ShapeError, SyncactError
from syncact.report.figures import training_curve
from syncact.stimulus import Frames, sync_frames
from syncact.sync import Pairing, hrf_convolve, pair, subject_jackknife

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
    embedding : BrainNetworks
        The fitted embedding (or baseline, by ``[embedding] method``).
    fbn_activations : dict of run to ndarray of shape (n_timepoints, n_fbns)
    recovery : DataFrame or None
        Recovery of planted networks when the dataset carries ``derivatives/ground_truth``.
    detection : DataFrame or None
        Per pairing, mean PCC and share of significant pairs among FBNs that carry a planted driven
        network ("driven": the power) and FBNs that carry none ("unrelated": the false positives).
    comparison : MethodComparison or None
        The ``[sweep]`` of methods and numbers of networks, when configured.
    annotation : CrossAnnotation or None
        Descriptions of FBNs and paired filters and their agreement, with ``[annotation]``.
    timings : dict of str to float
        Seconds per stage.
    """

    out_dir: Path
    summary: pd.DataFrame
    pairings: dict[tuple[str, str, str, str], Pairing]
    embedding: BrainNetworks
    fbn_activations: dict[str, np.ndarray]
    split: dict[str, list[str]]
    frames: dict[str, Frames]
    activations: dict[tuple[str, str], Activations]
    recovery: pd.DataFrame | None = None
    detection: pd.DataFrame | None = None
    comparison: MethodComparison | None = None
    timings: dict[str, float] = field(default_factory=dict)
    annotation: CrossAnnotation | None = None

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


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                   resume: bool = False, workers: int | None = None, scheduler: str | None = None,
                   overwrite: bool = False) -> ExperimentResult:
    """Run the Sync-ACT pipeline and write a run directory with tables, maps and an HTML report.

    Parameters
    ----------
    config : ExperimentConfig
        See :mod:`syncact.config`.
    out_dir : str or Path
        Run directory (created; files in it are replaced atomically, nothing else is touched).
    progress : bool, default=True
        Progress bars on the long stages.
    resume : bool, default=False
        Continue the embedding's training from ``brain/checkpoints`` (after a kill); the result is the
        same as an uninterrupted run. Frames, the prepared store and activations resume by themselves.
    workers : int, optional
        Run the units (preparation of each run, frames, extraction, the embedding fits of the main method
        and the ``[sweep]``, pairing) on a local Dask cluster of this many worker processes.
    scheduler : str, optional
        Run them on an existing Dask scheduler (workers must see ``out_dir`` at the same path).
        Either way the tables are identical to an in-process run (maps to float rounding); finished units
        (``units/``) are reused.

    overwrite : bool, default=False
        Replace the results of a finished run of another configuration in ``out_dir`` (refused without it).

    Returns
    -------
    ExperimentResult
    """
    out = check_output_dir(out_dir, "run directory")
    timings: dict[str, float] = {}
    tic = time.perf_counter()
    # everything about the data is checked before the run directory is touched
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
    for label in by_run:
        if not Path(movies[label].path).is_file():
            raise ConfigError(f"[[movies]] run {label}: movie file {str(movies[label].path)!r} is missing.")
    _claim_run_dir(out, config, overwrite=overwrite)
    _io.write_text(out / "config.resolved.toml", config.to_toml())
    record_run(out / "units", "started")  # `syncact units --prune` keeps what this run uses
    torch.manual_seed(config.seed)

    plan = Plan()  # one unit per run: movies decode in parallel on a cluster
    for label in by_run:
        movie, (start, stop) = movies[label], kept[label]
        movie_file = Path(movie.path)
        st = movie_file.stat()
        plan.add(f"frames/run-{label}", frames_unit, movie=movie_file, movie_size=st.st_size, movie_mtime_ns=st.st_mtime_ns,
                 tr=tr, n_timepoints=stop - start, offset=movie.offset + start * tr, size=config.frames.size,
                 policy=config.frames.policy, out_file=out / "frames" / f"run-{label}.npz",
                 outputs=[out / "frames" / f"run-{label}.npz"])
    framed = _run_units(plan, out, workers, scheduler, progress)
    frame_files = {label: Path(framed[f"frames/run-{label}"]["file"]) for label in by_run}
    frame_sha = {label: framed[f"frames/run-{label}"]["sha256"] for label in by_run}
    frames = {label: Frames.load(path) for label, path in frame_files.items()}
    timings["frames"] = time.perf_counter() - tic

    tic = time.perf_counter()  # BOLD before the CNNs: a bad voxel fails in seconds, not after the models ran
    store = prepare_dataset(info, dc.prepared or out / "prepared.zarr", target=dc.target, resolution=dc.resolution,
                            mask="template" if dc.mask == "mni152" else dc.mask, detrend=dc.detrend,
                            high_pass=dc.high_pass or None, confounds=dc.confounds, progress=progress,
                            workers=workers, scheduler=scheduler, units_dir=out / "units")
    mask_img = store.mask_img()
    mask, affine = np.asarray(mask_img.dataobj, dtype=bool), mask_img.affine
    split = split_subjects(sorted({r.subject for r in runs}), config.embedding.split, seed=config.seed)
    _io.write_json(out / "brain" / "split.json", split)
    # Runs stay in the store: training reads them lazily, test subjects are read when transformed.
    dropped = any(kept[r.run] != (0, r.n_timepoints) for r in runs)  # pieces of z-scored runs are z-scored again
    length = config.embedding.segment_length

    def pieces(group: str, size: int | None, labels: set[str]) -> list[Segment]:
        return [seg for r in runs if r.subject in split[group] and r.run in labels
                for seg in store.segments(size, subjects=[r.subject], runs=[r.run], drop_start=kept[r.run][0],
                                          drop_end=r.n_timepoints - kept[r.run][1])]

    segmented = dropped or length is not None
    train = store.runset(pieces("train", length, set(by_run)), zscore=segmented)
    val = store.runset(pieces("validation", length, set(by_run)), zscore=segmented)
    if not len(train):
        raise ConfigError(f"segment_length={length} is longer than every run after drop_start/drop_end.")
    test = {label: store.runset(pieces("test", None, {label}), zscore=dropped) for label in by_run}
    timings["load_bold"] = time.perf_counter() - tic

    tic = time.perf_counter()
    activations: dict[tuple[str, str], Activations] = {}
    logits: dict[tuple[str, str], np.ndarray] = {}  # class scores for [annotation] classes, from the same passes
    cache = {"none": None, "default": default_cache_dir()}.get(config.cache, config.cache)
    plan = Plan()
    for spec in config.models:
        scores = bool(config.annotation is not None and config.annotation.classes and spec.weights == "imagenet")
        for label in frames:
            act_file = out / "activations" / f"{spec.name}_{weights_label(spec.weights)}" / f"run-{label}.npz"
            plan.add(f"extract/{spec.name}/{weights_label(spec.weights)}/run-{label}", extract_unit,
                     frames_file=frame_files[label], frames_sha256=frame_sha[label], spec=spec, seed=config.seed,
                     layers=[*spec.layers, *([LOGITS] if scores else [])], device=config.device,
                     cache=str(cache) if cache else None,
                     out_file=act_file, outputs=[act_file])
    extracted = _run_units(plan, out, workers, scheduler, progress)
    for spec in config.models:
        for label in frames:
            acts = extracted[f"extract/{spec.name}/{weights_label(spec.weights)}/run-{label}"]
            if LOGITS in acts.layers:
                logits[(model_key(spec.name, spec.weights), label)] = acts.layers.pop(LOGITS)
            activations[(model_key(spec.name, spec.weights), label)] = acts
    timings["activations"] = time.perf_counter() - tic

    tic = time.perf_counter()
    emb_cfg = config.embedding
    # every fit is a unit: the main one (unless [embedding] model names one trained already), and the [sweep]'s
    # (method, K) fits, of which the one equal to the main fit is the same unit (fitted once); on a cluster
    # they train side by side
    plan = Plan()
    main = (emb_cfg.method, emb_cfg.n_networks)
    sweep = [] if config.sweep is None else [(m, int(k)) for m in config.sweep.methods for k in config.sweep.n_networks]
    shared = _network_params(config, mask_img)
    for method, k in dict.fromkeys([*([] if emb_cfg.model else [main]), *sweep]):
        name, params = network_spec(method, **shared)
        settings = {"progress": progress}
        if (method, k) == main:
            settings.update(checkpoint_dir=out / "brain" / "checkpoints", resume=resume)
        subspace = None  # the embedding's principal subspace: one unit per n_components, shared by every K and variant
        if name == "sync-act" and params.get("n_components") is not None:
            subspace = plan.add(f"subspace/r{params['n_components']}", shared_subspace, train=train,
                                n_components=params["n_components"], seed=params["seed"], settings={"progress": progress})
        plan.add(f"embed/{method}/K{k}", fit_networks, method=name, n_networks=k, params=params, train=train,
                 validation=val if len(val) else None, groups=train.groups, subspace=subspace, settings=settings)
    fitted = _run_units(plan, out, workers, scheduler, progress) if len(plan) else None
    if emb_cfg.model:
        embedding = _pretrained(Path(emb_cfg.model), emb_cfg.n_networks, store, split)
        if emb_cfg.identify == "ica" and embedding.identification_ is None:  # a model saved with raw weights
            embedding.identify_networks(train)
    else:
        embedding = fitted[f"embed/{emb_cfg.method}/K{emb_cfg.n_networks}"].model
    empty = np.flatnonzero(~np.any(embedding.maps_, axis=1))
    if empty.size:
        raise DataError(f"[embedding] method={emb_cfg.method!r} returned {empty.size} empty network(s) {empty[:8].tolist()} "
                        "(all-zero maps have no activation to pair); ask for fewer networks or less sparsity.")
    per_subject = {label: np.stack([embedding.transform(x) for x in test[label]]) for label in by_run}
    fbn_activations = {label: acts.mean(axis=0) for label, acts in per_subject.items()}
    fbn_names = [f"FBN-{k:02d}" for k in range(emb_cfg.n_networks)]
    _save_nifti(out / "brain" / "fbn_maps.nii.gz", store.unmask(embedding.maps_))
    if isinstance(embedding, FBNEmbedding):
        embedding.save(out / "brain" / "model.pt")
    if embedding.history_ is not None:
        _io.write_csv(out / "brain" / "training.csv", embedding.history_.to_frame())
        with _io.atomic_path(out / "figures" / "training.png") as tmp:
            tmp.write_bytes(training_curve(embedding.history_.to_frame()))
    for label, acts in fbn_activations.items():
        _io.write_csv(out / "brain" / f"activations_run-{label}.csv", pd.DataFrame(acts, columns=fbn_names))
        _io.save_npz(out / "brain" / f"activations_subjects_run-{label}.npz", activations=per_subject[label],
                     subjects=np.array([s.subject for s in test[label].segments]))
    timings["embedding"] = time.perf_counter() - tic

    tic = time.perf_counter()
    pairings: dict[tuple[str, str, str, str], Pairing] = {}
    rows = []
    alive = {(key, label, layer): _drop_dead(filt)
             for (key, label), acts in activations.items() for layer, filt in acts.layers.items()}
    labels = list(fbn_activations)
    plan = Plan()
    for (key, label), acts in activations.items():
        model, weights = key.split("/")
        other = labels[(labels.index(label) + 1) % len(labels)] if len(labels) > 1 else None
        for layer in acts.layers:
            filt, names = alive[(key, label, layer)]
            plan.add(f"pair/{model}/{weights}/{layer}/run-{label}", pair_unit, fbn=fbn_activations[label],
                     fbn_names=fbn_names, filters=filt, filter_names=names, subjects=per_subject[label],
                     control_filters=None if other is None else alive[(key, other, layer)][0],
                     control_run=other, pairing=config.pairing, seed=config.seed, tr=tr)
    paired = _run_units(plan, out, workers, scheduler, progress)
    for (key, label), acts in activations.items():
        model, weights = key.split("/")
        for layer in acts.layers:
            pairing, extra = paired[f"pair/{model}/{weights}/{layer}/run-{label}"]
            pairings[(model, weights, layer, label)] = pairing
            stem = out / "pairing" / f"{model}_{weights}_{layer}_run-{label}"
            for eq, table in (("eq2", pairing.eq2), ("eq1", pairing.eq1)):
                _io.write_csv(stem.with_name(stem.name + f"_{eq}.csv"), table)
                with _io.atomic_path(stem.with_name(stem.name + f"_{eq}.parquet")) as tmp:
                    table.to_parquet(tmp, index=False)
            rows.append({"model": model, "weights": weights, "layer": layer, "run": label,
                         "top1_accuracy": acts.meta.get("top1_accuracy"), **pairing.summary(), **extra})
    summary = pd.DataFrame(rows)
    _io.write_csv(out / "tables" / "summary.csv", summary)
    _io.write_csv(out / "tables" / "models_x_runs.csv", models_by_runs(summary), index=True)
    _io.write_csv(out / "tables" / "models_x_runs_eq1.csv",
                  models_by_runs(summary, value="mean_pcc_eq1", significant="mean_significant_eq1"), index=True)
    _io.write_csv(out / "tables" / "eq1_vs_eq2.csv", eq1_vs_eq2(summary))
    _io.write_csv(out / "tables" / "layers.csv", layers_table(summary))
    _write_regression(summary, out, config.seed)
    timings["pairing"] = time.perf_counter() - tic

    recovery = detection = None
    truth = _ground_truth(config.data.bids, mask, kept)
    if truth is not None:
        recovery, detection = _recovery(truth, embedding, fbn_activations, pairings)
        _io.write_csv(out / "tables" / "recovery.csv", recovery)
        _io.write_csv(out / "tables" / "detection.csv", detection)

    annotation = None
    if config.annotation is not None:
        tic = time.perf_counter()
        annotation = _annotate(config, out, embedding, mask, affine, frames, activations, logits, pairings)
        timings["annotation"] = time.perf_counter() - tic

    comparison = None
    if config.sweep is not None:
        tic = time.perf_counter()
        sweep_fits = {(m, int(k)): fitted[f"embed/{m}/K{k}"] for m in config.sweep.methods for k in config.sweep.n_networks}
        comparison = _sweep(config, out, train, val, test, alive, store, truth, tr, progress, sweep_fits)
        timings["sweep"] = time.perf_counter() - tic

    result = ExperimentResult(out, summary, pairings, embedding, fbn_activations, split, frames, activations,
                              recovery, detection, comparison, timings, annotation)
    tic = time.perf_counter()
    from syncact.report import write_report

    write_report(result, config, mask=mask, affine=affine)
    timings["report"] = time.perf_counter() - tic
    record_run(out / "units", "finished")
    return result


def _annotate(config: ExperimentConfig, out: Path, embedding: BrainNetworks, mask: np.ndarray, affine: np.ndarray,
              frames: dict[str, Frames], activations: dict[tuple[str, str], Activations],
              logits: dict[tuple[str, str], np.ndarray],
              pairings: dict[tuple[str, str, str, str], Pairing]) -> CrossAnnotation:
    """The ``[annotation]`` stage: describe every FBN and every paired filter, score each pair's agreement."""
    from syncact.ann.probe import imagenet_categories
    from syncact.annotate import (
        CoordinateAtlas,
        LabelAtlas,
        TermMaps,
        cross_annotate,
        describe_fbns,
        describe_filters,
        read_label_file,
        sentence_encoder,
    )
    from syncact.stimulus.features import frame_features

    ac = config.annotation
    encoder = sentence_encoder() if ac.agreement else None  # before the slow part: a missing model fails at once
    describers = [getattr(CoordinateAtlas, name)() for name in ac.atlases]
    describers += [LabelAtlas.from_files(e["image"], e["labels"], name=e.get("name")) for e in ac.label_atlases]
    if ac.term_maps is not None:
        describers.append(TermMaps.from_directory(ac.term_maps))
    fbn_names = next(iter(pairings.values())).eq2["fbn"].tolist()
    fbns = describe_fbns(embedding.maps_, mask, affine, fbn_names, describers,
                         labels=read_label_file(ac.fbn_labels) if ac.fbn_labels else None, top=ac.top_terms)
    runs = list(frames)
    features = pd.concat([frame_features(frames[r].images) for r in runs], ignore_index=True) if ac.features else None
    user = read_label_file(ac.filter_labels) if ac.filter_labels else None
    filters = {}
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        scores = categories = None
        if (key, runs[0]) in logits:
            scores = np.concatenate([logits[(key, r)] for r in runs])
            categories = imagenet_categories() if scores.shape[1] == 1000 else None
        for layer in spec.layers:
            used = sorted({int(f.rsplit("-", 1)[1]) for k, p in pairings.items() if k[:3] == (spec.name, weights, layer)
                           for f in p.eq2["filter"]})
            names = [f"filter-{j}" for j in used]
            acts = np.concatenate([activations[(key, r)].layers[layer][:, used] for r in runs])
            labels = None if user is None else _filter_labels(user, spec.name, layer, names,
                                                              activations[(key, runs[0])].layers[layer].shape[1])
            filters[(spec.name, weights, layer)] = describe_filters(acts, names, features=features, logits=scores,
                                                                    categories=categories, labels=labels, top=ac.top_terms)
    functional = [source for source, given in (("terms", ac.term_maps), ("labels", ac.fbn_labels)) if given]
    result = cross_annotate(fbns, filters, {k: p.eq2 for k, p in pairings.items()}, encoder=encoder,
                            fbn_sources=functional or None, n_perm=ac.n_perm, seed=config.seed)
    _io.write_csv(out / "annotation" / "fbns.csv", result.fbns)
    for (model, weights, layer), table in result.filters.items():
        _io.write_csv(out / "annotation" / f"filters_{model}_{weights}_{layer}.csv", table)
    _io.write_csv(out / "annotation" / "pairs.csv", result.pairs)
    if len(result.summary):
        _io.write_csv(out / "tables" / "agreement.csv", result.summary)
    return result


def _filter_labels(user: pd.DataFrame, model: str, layer: str, names: list[str], n_filters: int) -> pd.DataFrame | None:
    """The rows of a user's filter-label table for one model and layer (``model`` / ``layer`` columns optional)."""
    rows = user
    for column, value in (("model", model), ("layer", layer)):
        if column in rows:
            rows = rows[rows[column] == value]
    if "filter" in rows:
        unknown = sorted(set(rows["filter"]) - {f"filter-{j}" for j in range(n_filters)})
        if unknown:
            raise ConfigError(f"[annotation] filter_labels names {unknown[:5]}, which {model} {layer} does not have "
                              f"(filters are filter-0 ... filter-{n_filters - 1}).")
        rows = rows[rows["filter"].isin(names)]
    return rows if len(rows) else None


def _sweep(config: ExperimentConfig, out: Path, train: StoreRuns, val: StoreRuns, test: dict[str, StoreRuns],
           alive: dict[tuple[str, str, str], tuple[np.ndarray, list[str]]], store: PreparedStore,
           truth: GroundTruth | None, tr: float, progress: bool, fitted: dict[tuple[str, int], Fit]) -> MethodComparison:
    """The ``[sweep]``: every method x K (``fitted`` as units) through the same pairing; tables, figures and maps."""
    from syncact.report.figures import ablation_bars, k_sweep_plot

    sweep = config.sweep
    filters = {(key.split("/")[0], key.split("/")[1], layer, label): filt for (key, label, layer), (filt, _) in alive.items()}

    def save_maps(method: str, k: int, model: BrainNetworks) -> None:
        _save_nifti(out / "sweep" / f"maps_{method}_K{k}.nii.gz", store.unmask(model.maps_))

    comparison = compare_methods(
        train, val if len(val) else None, test, filters, methods=sweep.methods, n_networks=sweep.n_networks,
        params=_network_params(config, store.mask_img()), groups=train.groups, fitted=fitted,
        pairing={"alpha": config.pairing.alpha, "min_shift": config.pairing.min_shift, "hrf": config.pairing.hrf, "tr": tr,
                 "alternative": config.pairing.alternative},
        normalize=sweep.normalize, truth=truth, progress=progress, on_fit=save_maps)
    for name in ("fits", "ablation", "k_sweep", "matching", "recovery"):
        table = getattr(comparison, name)
        if table is not None:
            _io.write_csv(out / "tables" / f"sweep_{name}.csv", table)
    with _io.atomic_path(out / "tables" / "sweep_scores.parquet") as tmp:
        comparison.scores.to_parquet(tmp, index=False)
    for name, png in (("ablation", ablation_bars(comparison.ablation)), ("k_sweep", k_sweep_plot(comparison.k_sweep))):
        with _io.atomic_path(out / "figures" / f"{name}.png") as tmp:
            tmp.write_bytes(png)
    return comparison


def _claim_run_dir(out: Path, config: ExperimentConfig, *, overwrite: bool) -> None:
    """Refuse a run directory that holds a run of another configuration, unless ``overwrite``."""
    previous = out / "config.resolved.toml"
    if not previous.is_file() or overwrite:
        return
    try:
        old = tomllib.loads(previous.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{str(previous)!r} cannot be read ({exc}); choose a new run directory or pass --overwrite.") from exc
    new = tomllib.loads(config.to_toml())
    changed = sorted(_changed_keys(old, new))
    if changed:
        raise ConfigError(f"run directory {str(out)!r} holds the results of another configuration (changed: "
                          f"{', '.join(changed[:6])}); choose a new run directory, or pass --overwrite "
                          "(run_experiment(..., overwrite=True)) to replace them.")


def _changed_keys(old: object, new: object, where: str = "") -> list[str]:
    """Dotted keys whose values differ between two parsed TOML documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new))
                for k in _changed_keys(old.get(key), new.get(key), f"{where}.{key}" if where else key)]
    return [] if old == new else [where or "(root)"]


def _network_params(config: ExperimentConfig, mask_img: object) -> dict[str, object]:
    """Settings of ``[embedding]`` that change a fit, for :func:`make_networks` (each method takes those it knows)."""
    e = config.embedding
    return {"temporal": e.temporal, "n_heads": e.n_heads, "n_epochs": e.n_epochs, "learning_rate": e.learning_rate,
            "batch_size": e.batch_size, "sparsity": e.sparsity, "n_components": e.n_components,
            "lr_schedule": e.lr_schedule, "patience": e.patience, "precision": e.precision, "identify": e.identify,
            "seed": config.seed,
            "device": config.device, "mask_img": mask_img}


def _pretrained(path: Path, n_networks: int, store: PreparedStore, split: dict[str, list[str]]) -> FBNEmbedding:
    """An embedding trained by ``syncact embed``, checked against this run's voxels, K and held-out subjects."""
    embedding = FBNEmbedding.load(path)
    if embedding.n_voxels_ != store.n_features:
        raise ShapeError(f"[embedding] model {str(path)!r} was trained on {embedding.n_voxels_} voxels but the prepared "
                         f"store {str(store.path)!r} has {store.n_features}; train it on a store prepared with the same "
                         "data, grid and mask ([data] prepared can point at that store).")
    if embedding.n_networks != n_networks:
        raise ConfigError(f"[embedding] model {str(path)!r} has {embedding.n_networks} FBNs but n_networks = {n_networks}; "
                          f"set n_networks = {embedding.n_networks}.")
    split_file = path.parent / "split.json"
    if not split_file.is_file():
        logger.warning("no split.json beside %s: the test subjects cannot be checked to be held out of its training.", path)
        return embedding
    try:
        trained = json.loads(split_file.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"{str(split_file)!r} cannot be read as JSON ({exc}); write it again with `syncact embed`.") from exc
    seen = sorted((set(trained.get("train", [])) | set(trained.get("validation", []))) & set(split["test"]))
    if seen:
        raise ConfigError(f"[embedding] model {str(path)!r} was trained on subject(s) {seen[:5]} that this run tests on; "
                          "use the same [embedding] split and seed as `syncact embed` (--split, --seed).")
    return embedding


def _run_units(plan: Plan, out: Path, workers: int | None, scheduler: str | None, progress: bool) -> PlanResult:
    """Run a stage's units under ``<run>/units``. When one unit alone failed on bad input (a :class:`SyncactError`:
    config, data, files), that error is raised as it is (the message that says what to fix); else ``UnitsFailed``."""
    try:
        return run_plan(plan, out / "units", workers=workers, scheduler=scheduler, progress=progress)
    except UnitsFailed as failed:
        cause = failed.failures[0].exception
        if len(failed.failures) == 1 and isinstance(cause, SyncactError):
            raise cause from failed
        raise


def _kept_rows(run: RunSource, movie) -> tuple[int, int]:  # noqa: ANN001 - MovieConfig
    """Rows of a run that the movie covers, after ``drop_start``/``drop_end``."""
    start, stop = movie.drop_start, run.n_timepoints - movie.drop_end
    if stop - start < 3:
        raise ConfigError(f"run {run.run} has {run.n_timepoints} volumes; drop_start={movie.drop_start} and "
                          f"drop_end={movie.drop_end} leave {max(stop - start, 0)}. Check [[movies]] for run {run.run}.")
    return start, stop


def _write_regression(summary: pd.DataFrame, out: Path, seed: int) -> None:
    """Mean PCC on ImageNet top-1 accuracy (the paper's Fig. 7), when at least 3 ImageNet models have one."""
    from syncact.report.figures import accuracy_regression_plot

    known = summary[(summary["weights"] == "imagenet") & summary["top1_accuracy"].notna()]
    if known["model"].nunique() < 3:
        logger.info("fewer than 3 ImageNet models with a top-1 accuracy: no accuracy regression.")
        return
    fit = accuracy_regression(summary, seed=seed)
    _io.write_csv(out / "tables" / "accuracy_regression.csv", fit.to_frame())
    _io.write_csv(out / "tables" / "accuracy_points.csv", fit.points)
    with _io.atomic_path(out / "figures" / "accuracy_regression.png") as tmp:
        tmp.write_bytes(accuracy_regression_plot(fit.points, fit.slope, fit.intercept, fit.r2, fit.p_value))


def frames_unit(movie: Path, movie_size: int, movie_mtime_ns: int, tr: float, n_timepoints: int, offset: float,
                size: tuple[int, int] | None, policy: str, out_file: Path) -> dict[str, str]:
    """Unit: the frame of every TR of one run's movie, saved to the run directory.

    ``movie_size`` and ``movie_mtime_ns`` identify the movie file in the unit's key (a replaced movie is read
    again). Returns the frames file and its SHA-256 (the key of the extraction units that read it).
    """
    st = Path(movie).stat()
    if (st.st_size, st.st_mtime_ns) != (movie_size, movie_mtime_ns):
        raise DataError(f"{movie} changed after the plan was made; run the experiment again.")
    frames = sync_frames(movie, tr, n_timepoints, offset=offset, size=size, policy=policy, progress=False)
    frames.save(out_file)
    return {"file": str(out_file), "sha256": _io.file_sha256(out_file)}


def extract_unit(frames_file: Path, frames_sha256: str, spec: ModelConfig, seed: int, layers: list[str], device: str,
                 cache: str | None, out_file: Path) -> Activations:
    """Unit: one model's activations on one run's frames (through the activation cache), saved to the run directory."""
    if _io.file_sha256(frames_file) != frames_sha256:
        raise DataError(f"{frames_file} changed after the plan was made; run the experiment again.")
    images = Frames.load(frames_file).images
    built = get_model(spec.name, spec.weights, seed=seed, top1_accuracy=spec.top1_accuracy)
    acts = extract_activations(images, built, layers, reduce=spec.reduce, batch_size=spec.batch_size, device=device,
                               precision=spec.precision, cache=cache, progress=False)
    replace(acts, layers={k: v for k, v in acts.layers.items() if k != LOGITS}).save(out_file)
    return acts


def pair_unit(fbn: np.ndarray, fbn_names: list[str], filters: np.ndarray, filter_names: list[str], subjects: np.ndarray,
              control_filters: np.ndarray | None, control_run: str | None,
              pairing: PairingConfig, seed: int, tr: float) -> tuple[Pairing, dict[str, object]]:
    """Unit: pair one run's FBNs with one layer's filters; jackknife interval over subjects; mismatched-movie control.

    ``control_filters`` are the same layer's filters on another run's movie (None with a single run).
    Returns the pairing and the extra summary columns (``mean_pcc_low``/``high``, ``control_*``).
    """
    pc = pairing
    result = pair(fbn, filters, fbn_names=fbn_names, filter_names=filter_names, min_shift=pc.min_shift, alpha=pc.alpha,
                  hrf=pc.hrf, tr=tr, n_phase=pc.n_phase, seed=seed, max_lag=pc.max_lag, alternative=pc.alternative)
    extra: dict[str, object] = {}
    if subjects.shape[0] >= 3:  # jackknife intervals over test subjects: pcc_low/high on Eq.2, the mean's on the row
        paired = filters if pc.hrf == "none" else hrf_convolve(filters, tr, pc.hrf)
        table, (low, high) = subject_jackknife(subjects, paired, result.eq2["filter_index"].to_numpy(), level=pc.confidence)
        result.eq2["pcc_low"], result.eq2["pcc_high"] = table["pcc_low"].to_numpy(), table["pcc_high"].to_numpy()
        extra.update({"mean_pcc_low": low, "mean_pcc_high": high})
    else:
        logger.info("%d test subject(s): no confidence interval over subjects (needs 3).", subjects.shape[0])
    if control_filters is not None:
        # the FBNs against the next run's movie: nothing links them, so the share of significant pairs here
        # estimates the false-positive rate of the whole pipeline
        n = min(len(control_filters), len(fbn))
        control = pair(fbn[:n], control_filters[:n], min_shift=pc.min_shift, alpha=pc.alpha, hrf=pc.hrf, tr=tr,
                       alternative=pc.alternative)
        extra.update({"control_movie_run": control_run, "control_mean_pcc": control.mean_pcc,
                      "control_n_significant": int(control.eq2["significant"].sum())})
    return result, extra


def _drop_dead(filters: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Remove filters that never vary over the movie (their correlation is undefined); keep their indices as names."""
    alive = filters.std(axis=0) > 1e-8
    if not alive.all():
        logger.info("%d of %d filters are constant over the movie and are left out of the pairing.", (~alive).sum(), alive.size)
    return filters[:, alive], [f"filter-{j}" for j in np.flatnonzero(alive)]


def _save_nifti(path: Path, img: nib.Nifti1Image) -> None:
    with _io.atomic_path(path) as tmp:
        nib.save(img, tmp)


def _ground_truth(bids: Path, mask: np.ndarray, kept: dict[str, tuple[int, int]]) -> GroundTruth | None:
    """Planted networks of a simulated dataset (``derivatives/ground_truth``), on the run's grid, or None."""
    gt = Path(bids) / "derivatives" / "ground_truth"
    if not (gt / "networks.tsv").is_file():
        return None
    networks = pd.read_csv(gt / "networks.tsv", sep="\t", keep_default_na=False)
    planted = np.asarray(nib.load(gt / "planted_maps.nii.gz").dataobj)
    if planted.shape[:3] != mask.shape:
        logger.warning("ground truth maps are on another grid; recovery is not computed.")
        return None
    bold = {label: pd.read_csv(gt / f"run-{label}_drivers.tsv", sep="\t").iloc[slice(*kept[label])].reset_index(drop=True)
            for label in kept if (gt / f"run-{label}_drivers.tsv").is_file()}
    return GroundTruth(networks, planted[mask].T, bold) if bold else None


def _recovery(truth: GroundTruth, embedding: BrainNetworks, fbn_activations: dict[str, np.ndarray],
              pairings: dict[tuple[str, str, str, str], Pairing]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recovery of planted networks and the pairing's power / false positives per test.

    Detection rows per pairing: ``driven`` FBNs (tracking a planted driven network, r >= 0.5), ``unrelated``
    FBNs (tracking none) and ``best_of_planted`` (the FBN that tracks each planted driven network best:
    the share called significant is the share of planted networks found).
    """
    recovery = recovery_table(truth.networks, truth.maps, embedding.maps_, truth.bold, fbn_activations)
    roles = fbn_roles(truth.bold, fbn_activations)
    rows = []
    best = recovery.loc[(recovery["kind"] == "stimulus") & (recovery["temporal_fbn"] >= 0), "temporal_fbn"].to_numpy()
    for (model, weights, layer, label), pairing in pairings.items():
        calls = pairing.decisions()
        pcc = pairing.eq2["pcc"].to_numpy()
        groups = {role: (roles["role"] == role).to_numpy() for role in ("driven", "unrelated")}
        groups["best_of_planted"] = np.isin(np.arange(len(pcc)), best)  # power: each planted driven network found
        for role, chosen in groups.items():
            shares = {f"share_{test}": float(calls[test].to_numpy()[chosen].mean()) if chosen.any() else np.nan
                      for test in calls}
            rows.append({"model": model, "weights": weights, "layer": layer, "run": label, "fbn_role": role,
                         "n_fbns": int(chosen.sum()),
                         "mean_pcc": float(pcc[chosen].mean()) if chosen.any() else np.nan, **shares})
    return recovery, pd.DataFrame(rows)
