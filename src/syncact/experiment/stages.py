"""The stages of a run: inputs -> BOLD and frames -> CNN features -> FBNs (pairing: :mod:`~syncact.experiment.pairing`).

Each stage has a ``plan_*`` function that adds its units to the run's one :class:`~syncact.units.Plan` (their
inputs are earlier units' results, as :class:`~syncact.units.Dep`) and a function that turns the finished
units' results into typed data and writes its outputs through :class:`~syncact.experiment.layout.RunDirectory`.
:func:`~syncact.experiment.run_experiment` submits them to one session and calls the optional stages
(recovery, annotation, encoding, sweep, cards), which live in their own modules, after the last unit.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import nibabel as nib
import numpy as np

from syncact.analysis import fit_networks, subspace_units
from syncact.ann import Activations, default_cache_dir
from syncact.ann.registry import LOGITS, model_key, weights_label
from syncact.brain import DatasetInfo, PreparedStore, RunSource, Segment, StoreRuns, scan_dataset
from syncact.brain.prepare import begin_store, prepare_plan
from syncact.config import ExperimentConfig, MovieConfig
from syncact.exceptions import ConfigError, CorruptFileError, ShapeError, SyncactError
from syncact.experiment.layout import RunDirectory
from syncact.experiment.units import (
    alive_filters,
    check_networks,
    extract_unit,
    fbn_activations,
    frames_unit,
    transform_unit,
)
from syncact.networks import BrainNetworks, FBNEmbedding, network_spec, split_subjects
from syncact.stimulus import Frames
from syncact.units import Dep, Plan, Session, UnitsFailed

logger = logging.getLogger(__name__)

PRIORITY_FIT = 10
"""Units on the longest path (preparation, the principal subspace, the main fit, its test transforms) start first."""
PRIORITY_FRAMES = 8
"""Frames (seconds each) start before extraction units, which need them."""


def wait_for(session: Session, names: Iterable[str] | None = None) -> Mapping[str, object]:
    """Results of the units ``names`` (every submitted unit by default). When a single unit failed on bad input (a
    :class:`SyncactError`: config, data, files) and the others only because they needed it, that error is raised as
    it is (the message that says what to fix); else ``UnitsFailed``."""
    try:
        return session.finish() if names is None else session.results(names)
    except UnitsFailed as failed:
        causes = [f.exception for f in failed.failures if f.exception is not None]
        if len(causes) == 1 and isinstance(causes[0], SyncactError):
            raise causes[0] from failed
        raise


# inputs ---------------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """The checked inputs of a run: the dataset's runs grouped by label, each with its movie and kept rows."""

    info: DatasetInfo
    by_run: dict[str, list[RunSource]]
    movies: dict[str, MovieConfig]
    kept: dict[str, tuple[int, int]]

    @property
    def tr(self) -> float:
        return float(self.info.tr)

    @property
    def runs(self) -> list[RunSource]:
        return list(self.info.runs)


def check_inputs(config: ExperimentConfig) -> Inputs:
    """Scan the dataset and check it against the config's movies; nothing is written."""
    dc = config.data
    info = scan_dataset(dc.bids, layout=dc.layout, task=dc.task, space=dc.space, hcp_data=dc.hcp_data).check()
    if info.runs[0].kind == "array":
        raise ConfigError(f"`syncact run` needs brain data (volumes or CIFTI grayordinates) to map and describe FBNs; "
                          f"{info.layout} gave plain arrays. Run the steps instead: `syncact prepare`, `syncact embed`.")
    if info.runs[0].kind == "cifti":
        check_grayordinate_config(config)
    by_run = _group_runs(list(info.runs), config)
    movies = {m.run: m for m in config.movies}
    kept = {label: kept_rows(group[0], movies[label]) for label, group in by_run.items()}
    for label in by_run:
        if not Path(movies[label].path).is_file():
            raise ConfigError(f"[[movies]] run {label}: movie file {str(movies[label].path)!r} is missing.")
    return Inputs(info, by_run, movies, kept)


def check_grayordinate_config(config: ExperimentConfig) -> None:
    """Refuse, before anything runs, the settings that need volumes when the data are CIFTI grayordinates."""
    from syncact.networks.decomposition import VOLUME_METHODS

    methods = {config.embedding.method, *(config.sweep.methods if config.sweep is not None else ())}
    if volume_only := sorted(m for m in methods if m.lower() in VOLUME_METHODS):
        raise ConfigError(f"method(s) {volume_only} fit nilearn on NIfTI images and cannot take CIFTI grayordinates; "
                          "use sync-act (any variant), pca or srm in [embedding] method and [sweep] methods.")
    if config.data.mask not in ("mni152", "template", "intersect"):
        raise ConfigError(f"[data] mask = {config.data.mask!r} is a volume mask; CIFTI grayordinates are prepared as "
                          "they are: remove it.")
    if config.annotation is not None and config.annotation.label_atlases:
        raise ConfigError("[annotation] label_atlases are volume label images; on CIFTI grayordinates the HCP "
                          "parcellations describe the FBNs ([annotation] parcellations): remove label_atlases.")


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


def kept_rows(run: RunSource, movie: MovieConfig) -> tuple[int, int]:
    """Rows of a run that the movie covers, after ``drop_start``/``drop_end``."""
    start, stop = movie.drop_start, run.n_timepoints - movie.drop_end
    if stop - start < 3:
        raise ConfigError(f"run {run.run} has {run.n_timepoints} volumes; drop_start={movie.drop_start} and "
                          f"drop_end={movie.drop_end} leave {max(stop - start, 0)}. Check [[movies]] for run {run.run}.")
    return start, stop


# frames ---------------------------------------------------------------------------------------------------
@dataclass
class FrameSet:
    """Each run's frames, the files they are saved in and those files' SHA-256 (keys of the extraction units)."""

    frames: dict[str, Frames]
    files: dict[str, Path]
    sha256: dict[str, str]


def plan_frames(inputs: Inputs, config: ExperimentConfig, run_dir: RunDirectory, plan: Plan) -> dict[str, Dep]:
    """Add one unit per run to ``plan``: the frame on screen at every TR of its movie; returns them by run label."""
    deps = {}
    for label in inputs.by_run:
        movie, (start, stop) = inputs.movies[label], inputs.kept[label]
        movie_file = Path(movie.path)
        st = movie_file.stat()
        out_file = run_dir.frames(label)
        deps[label] = plan.add(f"frames/run-{label}", frames_unit, movie=movie_file, movie_size=st.st_size,
                               movie_mtime_ns=st.st_mtime_ns, tr=inputs.tr, n_timepoints=stop - start,
                               offset=movie.offset + start * inputs.tr, size=config.frames.size,
                               policy=config.frames.policy, out_file=out_file, outputs=[out_file], priority=PRIORITY_FRAMES)
    return deps


def load_frames(done: Mapping[str, object], deps: dict[str, Dep]) -> FrameSet:
    """The frames the units of :func:`plan_frames` wrote, read back."""
    files = {label: Path(done[dep.name]["file"]) for label, dep in deps.items()}
    return FrameSet({label: Frames.load(path) for label, path in files.items()}, files,
                    {label: done[dep.name]["sha256"] for label, dep in deps.items()})


# BOLD -----------------------------------------------------------------------------------------------------
@dataclass
class BoldData:
    """The prepared store and the runs each part of the subject split reads from it (lazily)."""

    store: PreparedStore
    split: dict[str, list[str]]
    train: StoreRuns
    validation: StoreRuns
    test: dict[str, StoreRuns]

    @cached_property
    def mask_img(self) -> nib.Nifti1Image | None:
        """The store's voxel set as a NIfTI mask, read from the store once (None on grayordinates)."""
        return self.store.mask_img() if self.store.kind == "nifti" else None

    @property
    def mask(self) -> np.ndarray | None:
        return None if self.mask_img is None else np.asarray(self.mask_img.dataobj, dtype=bool)


def plan_bold(inputs: Inputs, config: ExperimentConfig, run_dir: RunDirectory, plan: Plan) -> list[str]:
    """Create (or reopen) the prepared store and add one unit per run not in it yet (:func:`~syncact.brain.prepare.prepare_run`)
    to ``plan``; returns their names (what :func:`open_bold` waits for)."""
    dc = config.data
    preparation, todo = begin_store(inputs.info, dc.prepared or run_dir.prepared, target=dc.target,
                                    resolution=dc.resolution, mask="template" if dc.mask == "mni152" else dc.mask,
                                    detrend=dc.detrend, high_pass=dc.high_pass or None, confounds=dc.confounds)
    prepare_plan(preparation, todo, plan, priority=PRIORITY_FIT)
    return [f"prepare/{run.key}" for run in todo]


def open_bold(inputs: Inputs, config: ExperimentConfig, run_dir: RunDirectory) -> BoldData:
    """Open the prepared store (every run in it), split subjects, and cut the training/validation/test runs."""
    store = PreparedStore(config.data.prepared or run_dir.prepared)
    split = split_subjects(sorted({r.subject for r in inputs.runs}), config.embedding.split, seed=config.seed)
    run_dir.write_json(run_dir.brain("split.json"), split)
    order = [(r.subject, r.run, r.n_timepoints) for r in inputs.runs]
    train, val, test = split_runs(store, split, order, segment_length=config.embedding.segment_length,
                                  kept=inputs.kept, labels=list(inputs.by_run))
    return BoldData(store, split, train, val, test)


def split_runs(store: PreparedStore, split: dict[str, list[str]], order: list[tuple[str, str, int]], *,
               segment_length: int | None = None, kept: dict[str, tuple[int, int]] | None = None,
               labels: list[str] | None = None) -> tuple[StoreRuns, StoreRuns, dict[str, StoreRuns]]:
    """The lazy training, validation and per-run test runs of a subject split (used by a run and `syncact embed`).

    Parameters
    ----------
    store : PreparedStore
    split : dict
        Subjects of ``train``, ``validation`` and ``test``.
    order : list of (subject, run label, n_timepoints)
        The runs, in the order their segments are listed (the order training batches are drawn from).
    segment_length : int, optional
        Cut training and validation runs into pieces of this many TRs (test runs stay whole).
    kept : dict of run label to (start, stop), optional
        Rows each run label keeps (after ``drop_start``/``drop_end``); all rows by default. Pieces of
        z-scored runs are z-scored again.
    labels : list of str, optional
        Run labels in the order of the test dict (default: as they first appear in ``order``).

    Returns
    -------
    train, validation : StoreRuns
    test : dict of run label to StoreRuns
    """
    kept = kept or {}
    rows = {(s, r): kept.get(r, (0, n)) for s, r, n in order}
    dropped = any(rows[(s, r)] != (0, n) for s, r, n in order)
    labels = labels or list(dict.fromkeys(r for _, r, _ in order))

    def pieces(group: str, size: int | None, chosen: set[str]) -> list[Segment]:
        return [seg for s, r, n in order if s in split[group] and r in chosen
                for seg in store.segments(size, subjects=[s], runs=[r], drop_start=rows[(s, r)][0],
                                          drop_end=n - rows[(s, r)][1])]

    segmented = dropped or segment_length is not None
    train = store.runset(pieces("train", segment_length, set(labels)), zscore=segmented)
    val = store.runset(pieces("validation", segment_length, set(labels)), zscore=segmented)
    if not len(train):
        raise ConfigError(f"segment_length={segment_length} is longer than every run after drop_start/drop_end.")
    test = {label: store.runset(pieces("test", None, {label}), zscore=dropped) for label in labels}
    return train, val, test


# CNN features ---------------------------------------------------------------------------------------------
@dataclass
class Features:
    """Every model's filter activations per run, the class scores kept for ``[annotation]``, and the
    non-constant filters of each (model key, run, layer) with their layer indices."""

    activations: dict[tuple[str, str], Activations]
    logits: dict[tuple[str, str], np.ndarray]
    alive: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]

    @property
    def filter_indices(self) -> dict[tuple[str, str, str], np.ndarray]:
        return {key: indices for key, (_, indices) in self.alive.items()}


def plan_extraction(frames: dict[str, Dep], config: ExperimentConfig, run_dir: RunDirectory,
                    plan: Plan) -> dict[tuple[str, str], Dep]:
    """Add one unit per model x run to ``plan``: the model's activations on the run's frames (all its layers in one
    pass, through the activation cache); returns them by (model key, run label)."""
    cache = {"none": None, "default": default_cache_dir()}.get(config.cache, config.cache)
    deps = {}
    for spec in config.models:
        scores = bool(config.annotation is not None and config.annotation.classes and spec.weights == "imagenet")
        weights = weights_label(spec.weights)
        for label, frames_dep in frames.items():
            act_file = run_dir.activations(spec.name, weights, label)
            deps[(model_key(spec.name, spec.weights), label)] = plan.add(
                f"extract/{spec.name}/{weights}/run-{label}", extract_unit, frames=frames_dep, spec=spec, seed=config.seed,
                layers=[*spec.layers, *([LOGITS] if scores else [])], device=config.device,
                cache=str(cache) if cache else None, out_file=act_file, outputs=[act_file])
    return deps


def collect_features(done: Mapping[str, object], deps: dict[tuple[str, str], Dep]) -> Features:
    """The activations of :func:`plan_extraction`'s units; class scores set apart; the non-constant filters."""
    activations: dict[tuple[str, str], Activations] = {}
    logits: dict[tuple[str, str], np.ndarray] = {}
    for key, dep in deps.items():
        acts = done[dep.name]
        if LOGITS in acts.layers:
            acts = replace(acts, layers=dict(acts.layers))
            logits[key] = acts.layers.pop(LOGITS)
        activations[key] = acts
    alive = {(key, label, layer): alive_filters(filt)
             for (key, label), acts in activations.items() for layer, filt in acts.layers.items()}
    return Features(activations, logits, alive)


# FBNs -----------------------------------------------------------------------------------------------------
def network_params(config: ExperimentConfig, mask_img: object | None) -> dict[str, object]:
    """Settings of ``[embedding]`` that change a fit, for :func:`make_networks` (each method takes those it knows)."""
    e = config.embedding
    return {"temporal": e.temporal, "n_heads": e.n_heads, "n_epochs": e.n_epochs, "learning_rate": e.learning_rate,
            "batch_size": e.batch_size, "sparsity": e.sparsity, "n_components": e.n_components,
            "lr_schedule": e.lr_schedule, "patience": e.patience, "precision": e.precision, "identify": e.identify,
            "seed": config.seed, "device": config.device, "mask_img": mask_img}


def plan_fits(bold: BoldData, config: ExperimentConfig, run_dir: RunDirectory, plan: Plan, progress: bool,
              resume: bool) -> str | None:
    """Add every fit to ``plan`` as a unit: the main one (unless ``[embedding] model`` names one trained already) and
    the ``[sweep]``'s (method, K) fits, of which the one equal to the main fit is the same unit (fitted once); on a
    cluster they train side by side. Returns the main fit's unit name (None with ``[embedding] model``)."""
    emb_cfg = config.embedding
    main = (emb_cfg.method, emb_cfg.n_networks)
    sweep = [] if config.sweep is None else [(m, int(k)) for m in config.sweep.methods for k in config.sweep.n_networks]
    shared = network_params(config, bold.mask_img)
    train, val = bold.train, bold.validation
    for method, k in dict.fromkeys([*([] if emb_cfg.model else [main]), *sweep]):
        name, params = network_spec(method, **shared)
        settings = {"progress": progress}
        if (method, k) == main:
            settings.update(checkpoint_dir=run_dir.checkpoints, resume=resume)
        subspace = None  # the embedding's principal subspace: one unit per n_components, shared by every K and variant
        if name == "sync-act" and params.get("n_components") is not None:
            subspace = subspace_units(plan, f"subspace/r{params['n_components']}", train, params["n_components"],
                                      seed=params["seed"], n_shares=emb_cfg.subspace_shares, progress=progress,
                                      priority=PRIORITY_FIT)
        plan.add(f"embed/{method}/K{k}", fit_networks, method=name, n_networks=k, params=params, train=train,
                 validation=val if len(val) else None, groups=train.groups, subspace=subspace, settings=settings,
                 priority=PRIORITY_FIT if (method, k) == main else 0)
    return None if emb_cfg.model else f"embed/{emb_cfg.method}/K{emb_cfg.n_networks}"


def main_embedding(done: Mapping[str, object], fit_name: str | None, bold: BoldData,
                   config: ExperimentConfig) -> BrainNetworks:
    """The run's embedding: the main fit's (``fit_name``), or the ``[embedding] model`` file (identified if saved raw)."""
    emb_cfg = config.embedding
    if fit_name is not None:
        return done[fit_name].model
    embedding = load_pretrained(Path(emb_cfg.model), emb_cfg.n_networks, bold.store, bold.split)
    if emb_cfg.identify == "ica" and embedding.identification_ is None:  # a model saved with raw weights
        embedding.identify_networks(bold.train)
    check_networks(embedding, emb_cfg.method)
    return embedding


def plan_transforms(fit_name: str, bold: BoldData, config: ExperimentConfig, plan: Plan) -> dict[str, Dep]:
    """Add one unit per run to ``plan``: the main fit's FBN activations of every test subject
    (:func:`~syncact.experiment.units.transform_unit`); returns them by run label."""
    return {label: plan.add(f"transform/run-{label}", transform_unit, fit=Dep(fit_name), runs=runs,
                            method=config.embedding.method, priority=PRIORITY_FIT)
            for label, runs in bold.test.items()}


def load_pretrained(path: Path, n_networks: int, store: PreparedStore, split: dict[str, list[str]]) -> FBNEmbedding:
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


@dataclass
class FBNActivations:
    """The FBNs' activations on the test subjects: per subject and their mean, per run."""

    per_subject: dict[str, np.ndarray]
    mean: dict[str, np.ndarray]
    names: list[str]


def write_embedding(embedding: BrainNetworks, store: PreparedStore, folder: Path) -> None:
    """The FBN maps (``fbn_maps.nii.gz``, or ``fbn_maps.dscalar.nii`` for grayordinates), the model file
    (``model.pt``, the embedding only) and its loss per epoch (``training.csv``) in ``folder``: a run's
    ``brain/``, or the output of `syncact embed`."""
    writer = RunDirectory(folder)
    names = [f"FBN-{k:02d}" for k in range(embedding.maps_.shape[0])]
    writer.write_maps(folder / f"fbn_maps{store.map_suffix}", store.map_image(embedding.maps_, names))
    if isinstance(embedding, FBNEmbedding):
        embedding.save(folder / "model.pt")
    if embedding.history_ is not None:
        writer.write_csv(folder / "training.csv", embedding.history_.to_frame())


def transform_test(embedding: BrainNetworks, bold: BoldData) -> dict[str, dict[str, np.ndarray]]:
    """Every test subject's FBN activations and their mean, per run, in this process (an ``[embedding] model``:
    :func:`plan_transforms` does it as units for a fit of the run)."""
    return {label: fbn_activations(embedding, runs) for label, runs in bold.test.items()}


def collect_fbns(transformed: Mapping[str, Mapping[str, np.ndarray]], bold: BoldData, run_dir: RunDirectory) -> FBNActivations:
    """The FBN activations per run (:func:`transform_test` or the transform units' results), written to ``brain/``."""
    per_subject = {label: np.asarray(t["per_subject"]) for label, t in transformed.items()}
    mean = {label: np.asarray(t["mean"]) for label, t in transformed.items()}
    names = [f"FBN-{k:02d}" for k in range(next(iter(mean.values())).shape[1])]
    for label in mean:
        run_dir.write_fbn_activations(label, mean[label], per_subject[label],
                                      [s.subject for s in bold.test[label].segments], names)
    return FBNActivations(per_subject, mean, names)
