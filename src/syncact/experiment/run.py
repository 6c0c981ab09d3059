"""The whole Sync-ACT pipeline from one experiment config to a run directory, stage after stage."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from syncact._docs import fill_doc
from syncact._validation import check_output_dir
from syncact.annotate import map_peaks
from syncact.config import ExperimentConfig
from syncact.experiment import stages
from syncact.experiment.annotation import annotate_pairs
from syncact.experiment.cards import pair_cards
from syncact.experiment.encoding import encode
from syncact.experiment.layout import RunDirectory
from syncact.experiment.provenance import collect_provenance
from syncact.experiment.report import write_report
from syncact.experiment.result import ExperimentResult
from syncact.experiment.sweep import sweep_methods
from syncact.experiment.truth import load_ground_truth, recovery_and_detection
from syncact.report.figures import training_curve
from syncact.units import Executor, record_run


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
    tic = time.perf_counter()
    inputs = stages.check_inputs(config)  # everything about the data is checked before the run directory is touched
    run_dir.claim(config.to_toml(), overwrite=overwrite)
    record_run(run_dir.units, "started")  # `syncact units --prune` keeps what this run uses
    torch.manual_seed(config.seed)
    frameset = stages.make_frames(inputs, config, run_dir, executor, progress)
    timings["frames"] = time.perf_counter() - tic

    tic = time.perf_counter()  # BOLD before the CNNs: a bad voxel fails in seconds, not after the models ran
    bold = stages.prepare_bold(inputs, config, run_dir, executor, progress)
    timings["load_bold"] = time.perf_counter() - tic

    tic = time.perf_counter()
    features = stages.extract_features(frameset, config, run_dir, executor, progress)
    timings["activations"] = time.perf_counter() - tic

    tic = time.perf_counter()
    fitted = stages.fit_embeddings(bold, config, run_dir, executor, progress, resume)
    embedding = stages.main_embedding(fitted, bold, config)
    fbns = stages.transform_test(embedding, bold, run_dir)
    stages.write_embedding(embedding, bold.store, run_dir.brain(""))
    if embedding.history_ is not None:
        run_dir.write_figure("training", training_curve(embedding.history_.to_frame()))
    timings["embedding"] = time.perf_counter() - tic

    tic = time.perf_counter()
    pairings, summary = stages.pair_fbns(fbns, features, config, inputs.tr, run_dir, executor, progress)
    timings["pairing"] = time.perf_counter() - tic

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

    if config.encoding is not None:
        tic = time.perf_counter()
        bold_test = {label: [np.asarray(x) for x in runs] for label, runs in bold.test.items()}
        filters = {(key, label, layer): values for (key, label), acts in features.activations.items()  # every filter:
                   for layer, values in acts.layers.items()}  # the same columns in every run (constant ones are zero)
        result.encoding = encode(bold_test, fbns.per_subject, filters, config, inputs.tr, pairings, truth, run_dir,
                                 bold.store, progress)
        timings["encoding"] = time.perf_counter() - tic

    if config.sweep is not None:
        tic = time.perf_counter()
        sweep_fits = {(m, int(k)): fitted[f"embed/{m}/K{k}"] for m in config.sweep.methods for k in config.sweep.n_networks}
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
