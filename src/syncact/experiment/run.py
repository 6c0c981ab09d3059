"""The whole Sync-ACT pipeline from one experiment config to a run directory.

Every unit of every stage (preparation, frames, extraction, the principal subspace and fits, the test
subjects' FBN activations, pairing, encoding) joins one graph on one executor session, submitted as soon as
the driver can name its inputs, so on a cluster extraction and encoding run beside preparation and the
fits. The driver waits once in the middle (the fits are keyed by the prepared store's voxel set) and does
its light work (tables, maps, annotation, cards, the report) after the last unit.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from syncact._docs import fill_doc
from syncact._validation import check_output_dir
from syncact.annotate import map_peaks
from syncact.config import ExperimentConfig
from syncact.experiment import stages
from syncact.experiment.annotation import annotate_pairs
from syncact.experiment.cards import pair_cards
from syncact.experiment.encoding import plan_encoding, write_encoding
from syncact.experiment.layout import RunDirectory
from syncact.experiment.pairing import collect_pairings, plan_pairings
from syncact.experiment.provenance import collect_provenance
from syncact.experiment.report import write_report
from syncact.experiment.result import ExperimentResult
from syncact.experiment.sweep import sweep_methods
from syncact.experiment.truth import load_ground_truth, recovery_and_detection
from syncact.report.figures import training_curve
from syncact.units import Executor, Plan, record_run


@fill_doc
def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True, resume: bool = False,
                   executor: Executor | None = None, overwrite: bool = False) -> ExperimentResult:
    """Run the Sync-ACT pipeline and write a run directory with tables, maps and an HTML report.

    Parameters
    ----------
    config : ExperimentConfig
        See :mod:`syncact.config`.
    out_dir : str or Path
        Run directory (layout: :mod:`syncact.experiment.layout`; files in it are replaced atomically,
        nothing else is touched).
    %(progress)s
    resume : bool, default=False
        Continue the embedding's training from ``brain/checkpoints`` (after a kill); the result is the
        same as an uninterrupted run. Frames, the prepared store and activations resume by themselves.
    %(executor)s
    overwrite : bool, default=False
        Replace the results of a finished run of another configuration in ``out_dir`` (refused without it).

    Returns
    -------
    ExperimentResult
    """
    executor = executor or Executor()
    started, start = datetime.now(UTC), time.perf_counter()
    run_dir = RunDirectory(check_output_dir(out_dir, "run directory"))
    timings: dict[str, float] = {}
    inputs = stages.check_inputs(config)  # everything about the data is checked before the run directory is touched
    run_dir.claim(config.to_toml(), overwrite=overwrite)
    record_run(run_dir.units, "started")  # `syncact units --prune` keeps what this run uses
    torch.manual_seed(config.seed)
    plan = Plan()  # one graph: every unit of every stage, submitted as soon as the driver can name its inputs
    with executor.session(run_dir.units, progress=progress) as session:
        prepare = stages.plan_bold(inputs, config, run_dir, plan)
        session.submit(plan)
        if executor.in_process:  # nothing runs beside the driver: a bad BOLD run fails before the CNNs run
            stages.wait_for(session, prepare)
        frames = stages.plan_frames(inputs, config, run_dir, plan)
        extracted = stages.plan_extraction(frames, config, run_dir, plan)
        session.submit(plan)  # on a cluster, frames and extraction run while the BOLD is prepared
        stages.wait_for(session, prepare)  # the fits' inputs are keyed by the prepared store's voxel set
        bold = stages.open_bold(inputs, config, run_dir)
        timings["prepare"] = time.perf_counter() - start
        fit_name = stages.plan_fits(bold, config, run_dir, plan, progress, resume)
        if fit_name is None:  # [embedding] model: trained already, loaded and applied here
            embedding = stages.main_embedding({}, None, bold, config)
            transforms = stages.transform_test(embedding, bold)
        else:
            transforms = stages.plan_transforms(fit_name, bold, config, plan)
        paired = plan_pairings(transforms, extracted, config, inputs.tr, plan)
        encoding = None if config.encoding is None else plan_encoding(
            plan, config, inputs.tr, bold.test, list(transforms.values()), extracted, progress)
        session.submit(plan)
        done = stages.wait_for(session)
    timings["units"] = time.perf_counter() - start
    epoch = started.timestamp()  # when each unit ran, in seconds from the run's start (reused units: not listed)
    run_dir.write_json(run_dir.units / ".timeline.json", {name: [round(a - epoch, 3), round(b - epoch, 3)]
                                                          for name, (a, b) in done.timeline.items() if name in done.computed})
    timings.update({f"units:{stage}": done.seconds(f"{stage}/") for stage in
                    ("prepare", "frames", "extract", "subspace", "embed", "transform", "pair", "encoding")})

    tic = time.perf_counter()  # the driver's light work, after every unit
    frameset = stages.load_frames(done, frames)
    features = stages.collect_features(done, extracted)
    if fit_name is not None:
        embedding = stages.main_embedding(done, fit_name, bold, config)
        transforms = {label: done[dep.name] for label, dep in transforms.items()}
    fbns = stages.collect_fbns(transforms, bold, run_dir)
    stages.write_embedding(embedding, bold.store, run_dir.brain(""))
    if embedding.history_ is not None:
        run_dir.write_figure("training", training_curve(embedding.history_.to_frame()))
    top1 = {key: acts.meta.get("top1_accuracy") for (key, _), acts in features.activations.items()}
    pairings, summary = collect_pairings(done, paired, top1, run_dir, config.seed)
    timings["tables"] = time.perf_counter() - tic

    result = ExperimentResult(run_dir.root, summary, pairings, embedding, fbns.mean, bold.split, frameset.frames,
                              features.activations, features.filter_indices, inputs.tr, timings=timings)
    if bold.mask is not None:  # volumes: the peak of each map and the atlas region nearest to it
        result.peaks = map_peaks(embedding.maps_, bold.mask, bold.mask_img.affine,
                                 [f"FBN-{k:02d}" for k in range(embedding.maps_.shape[0])])
        run_dir.write_table("fbn_peaks", result.peaks)
    truth = load_ground_truth(config.data.bids, bold.store, inputs.kept)
    if truth is not None:
        result.recovery, result.detection = recovery_and_detection(truth, embedding, fbns.mean, pairings)
        run_dir.write_table("recovery", result.recovery)
        run_dir.write_table("detection", result.detection)

    if config.annotation is not None:
        tic = time.perf_counter()
        result.annotation = annotate_pairs(config, run_dir, embedding, bold.store, frameset.frames, features, pairings)
        timings["annotation"] = time.perf_counter() - tic

    if encoding is not None:
        tic = time.perf_counter()
        result.encoding = write_encoding(done, encoding, config, fbns.per_subject, pairings, truth, run_dir, bold.store)
        timings["encoding"] = time.perf_counter() - tic

    if config.sweep is not None:
        tic = time.perf_counter()
        sweep_fits = {(m, int(k)): done[f"embed/{m}/K{k}"] for m in config.sweep.methods for k in config.sweep.n_networks}
        result.comparison = sweep_methods(config, bold, features, truth, inputs.tr, run_dir, progress, sweep_fits)
        timings["sweep"] = time.perf_counter() - tic

    tic = time.perf_counter()
    result.cards = pair_cards(result, config, next(iter(fbns.mean)))
    timings["cards"] = time.perf_counter() - tic
    movies = {label: (str(inputs.movies[label].path), sha) for label, sha in frameset.sha256.items()}
    result.provenance = collect_provenance(config.to_toml(), movies, bold.store, started=started,
                                           wall_s=time.perf_counter() - start, timings=timings)
    run_dir.write_json(run_dir.root / "provenance.json", result.provenance.to_dict())
    tic = time.perf_counter()
    write_report(result, config, store=bold.store)
    timings["report"] = time.perf_counter() - tic
    record_run(run_dir.units, "finished")
    return result
