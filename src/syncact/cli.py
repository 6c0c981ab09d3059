"""Command line: argument parsing -> config -> library calls; nothing else."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from syncact.exceptions import SyncactError

EXAMPLE_CONFIG = """example experiment.toml:

  name = "my-study"
  seed = 0
  [data]
  bids = "/data/bids"            # BIDS root with sub-*/func/*_bold.nii.gz and JSON sidecars
  task = "movie"
  mask = "mni152"                # or a NIfTI mask on the BOLD grid
  high_pass = 0.01               # Hz: cosine high-pass before z-scoring (0 disables it)
  [[movies]]
  run = "1"
  path = "stimuli/run-1.mp4"
  offset = 0.0                   # movie time (s) at the first volume
  [[models]]
  name = "efficientnet_lite0"
  weights = "imagenet"           # "imagenet", "places365", "random" or a local state-dict file
  layers = ["block3", "last_conv"]
  [embedding]
  n_networks = 64
  temporal = "msa"               # "msa", "lstm" or "none"
  [pairing]
  alpha = 0.05
  hrf = "none"                   # "none" (paper), "glover" or "spm"
"""


def _peak_memory_gb() -> float:
    """Peak resident memory of this process or its largest child, in GB (the run's provenance records both)."""
    from syncact.experiment.provenance import peak_memory_gb

    return max(peak_memory_gb())


def _print_tables(summary, out_dir: Path, *, full: bool) -> None:  # noqa: ANN001 - DataFrame
    """The paper's tables from pairing summaries; with ``full``, every table (``syncact tables``)."""
    import pandas as pd

    from syncact.analysis import eq1_vs_eq2, layers_table, models_by_runs

    def show(title: str, table: pd.DataFrame, index: bool = False) -> None:
        print(f"\n{title}")
        print(table.to_string(index=index, float_format=lambda v: f"{v:.4f}"))

    show("Mean PCC of Eq.2 pairs (Tables 5-6; * = not significant, circular-shift test):", models_by_runs(summary), True)
    show("Layers (Table 7; Ratio = non-significant pairs / pairs):", layers_table(summary))
    if full:
        show("Mean PCC of Eq.1 pairs (appendix Table 8; * = not significant):",
             models_by_runs(summary, value="mean_pcc_eq1", significant="mean_significant_eq1"), True)
    show("Eq.1 beside Eq.2:", eq1_vs_eq2(summary))
    regression = out_dir / "tables" / "accuracy_regression.csv"
    if regression.is_file():
        show("Mean PCC on ImageNet top-1 accuracy (Fig. 7):", pd.read_csv(regression))
    if full:
        tests = [c for c in summary if c.startswith("n_significant_")]
        show("Significant Eq.2 pairs per test (of n_fbns):", summary[["model", "weights", "layer", "run", "n_fbns", *tests]])
        agreement = out_dir / "tables" / "agreement.csv"
        if agreement.is_file():
            show("Agreement of paired descriptions (true pairs against shuffled ones):", pd.read_csv(agreement))
        detection = out_dir / "tables" / "detection.csv"
        if detection.is_file():
            show("Detection on planted truth (share called significant per test):", pd.read_csv(detection))


def _print_summary(result, started: float) -> None:  # noqa: ANN001
    _print_tables(result.summary, result.out_dir, full=False)
    if result.recovery is not None:
        print("\nRecovery of the planted networks (best FBN per network):")
        print(result.recovery.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print("\nDetection (FBNs carrying a planted driven network vs none):")
        print(result.detection.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nReport: {result.report_path.resolve()}")
    print(f"Wall time: {time.perf_counter() - started:.0f} s   Peak memory: {_peak_memory_gb():.2f} GB")


def _cmd_demo(args: argparse.Namespace) -> int:
    from syncact.demo import run_demo

    started = time.perf_counter()
    result = run_demo(Path(args.out), n_subjects=args.subjects, n_timepoints=args.timepoints, seed=args.seed,
                      quick=args.quick, space=args.space, progress=not args.no_progress)
    _print_summary(result, started)
    return 0


def _cmd_demo_rsa(args: argparse.Namespace) -> int:
    from syncact.demo import run_rsa_demo

    started = time.perf_counter()
    result = run_rsa_demo(Path(args.out), n_images=args.images, steps=args.steps, seed=args.seed, quick=args.quick,
                          progress=not args.no_progress)
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    print("Layer maps per image set (mean |r| between the mapped layer RDMs; Dice overlap of significant maps):")
    print(result.overlap.to_string(**fmt))
    print("\nRecovery of the planted layer-to-region mapping:")
    print(result.mapping.to_string(**fmt))
    print(f"\nMaps, images and tables: {result.out_dir.resolve()}")
    print(f"Report: {(result.out_dir / 'report' / 'index.html').resolve()}")
    print(f"Wall time: {time.perf_counter() - started:.0f} s   Peak memory: {_peak_memory_gb():.2f} GB")
    return 0


def _executor(args: argparse.Namespace):  # noqa: ANN202 - syncact.units.Executor, imported when a command runs
    """Where a command's units run, from --workers / --scheduler."""
    from syncact.units import Executor

    return Executor(workers=args.workers, scheduler=args.scheduler)


def _cmd_run(args: argparse.Namespace) -> int:
    from syncact.config import load_config
    from syncact.experiment import run_experiment

    started = time.perf_counter()
    config = load_config(args.config)
    out = Path(args.out) if args.out else Path("results") / config.name
    result = run_experiment(config, out, progress=not args.no_progress, resume=args.resume,
                            executor=_executor(args), overwrite=args.overwrite)
    _print_summary(result, started)
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    import pandas as pd

    from syncact.exceptions import DataError

    out = Path(args.run_dir)
    path = out / "tables" / "summary.csv"
    if not path.is_file():
        raise DataError(f"{path} not found: give the run directory that `syncact run` or `syncact demo` wrote.")
    summary = pd.read_csv(path, dtype={"run": str, "weights": str})
    _print_tables(summary, out, full=True)
    return 0


def _cmd_units(args: argparse.Namespace) -> int:
    from syncact.exceptions import ConfigError, MissingFileError
    from syncact.units import list_units, prune_units, stale_units

    store = Path(args.run_dir) / "units"
    if not store.is_dir():
        raise MissingFileError(f"{store} not found: give a run directory that `syncact run` or `syncact demo` wrote.")
    units = list_units(store)
    try:
        stale = prune_units(store) if args.prune else stale_units(store)
    except ConfigError as exc:  # no finished run recorded: the listing still helps, pruning does not happen
        if args.prune:
            raise
        stale, why = None, str(exc)
    table = units.assign(stale=units["path"].isin([] if stale is None else stale["path"])).groupby("stage").agg(
        units=("unit", "size"), stale=("stale", "sum"), MB=("bytes", lambda b: round(b.sum() / 1e6, 1)))
    print(table.to_string() if len(units) else f"{store} holds no unit result.")
    if stale is None:
        print(f"\nwhich results are stale is not known: {why}")
        return 0
    verb = "removed" if args.prune else "not used by the last run (remove them with --prune)"
    print(f"\n{len(stale)} of {len(units)} unit results ({stale['bytes'].sum() / 1e6:.1f} MB) {verb}.")
    return 0


def _scan(args: argparse.Namespace, *, deep: bool = False):  # noqa: ANN202
    from syncact.brain import scan_dataset

    space = None if args.space == "any" else args.space
    return scan_dataset(args.path, layout=args.layout, task=args.task, space=space, hcp_data=args.hcp_data, tr=args.tr,
                        deep=deep)


def _cmd_inspect(args: argparse.Namespace) -> int:
    info = _scan(args, deep=args.deep)
    print(info.summary())
    if args.runs:
        print(info.to_frame().to_string(index=False))
    return 1 if info.problems else 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from syncact.brain import prepare_dataset

    started = time.perf_counter()
    info = _scan(args)
    print(info.summary())
    store = prepare_dataset(info, args.out, target=args.target, resolution=args.resolution, mask=args.mask,
                            detrend=not args.no_detrend, high_pass=args.high_pass or None, confounds=args.confounds,
                            progress=not args.no_progress, executor=_executor(args))
    print(f"\n{store.path}: {len(store.runs)} runs, {store.n_features} features, TR {store.tr:g} s "
          f"in {time.perf_counter() - started:.0f} s (peak memory {_peak_memory_gb():.2f} GB)")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from syncact import _io
    from syncact.annotate.parcellations import describe_on_store
    from syncact.brain import PreparedStore
    from syncact.experiment.stages import split_runs, write_embedding
    from syncact.networks import FBNEmbedding, init_distributed, split_subjects

    started = time.perf_counter()
    rank, world, device = init_distributed() if args.ddp else (0, 1, args.device)
    store = PreparedStore(args.store)
    split = split_subjects(store.subjects, tuple(float(f) for f in args.split.split(",")), seed=args.seed)
    out = Path(args.out)
    order = [(r["subject"], r["run"], r["n_timepoints"]) for r in store.runs]
    train, val, _ = split_runs(store, split, order, segment_length=args.segment_length)  # as a run cuts them
    emb = FBNEmbedding(args.n_networks, temporal=args.temporal, n_heads=args.n_heads, n_epochs=args.epochs,
                       learning_rate=args.lr, batch_size=args.batch_size, n_components=args.components or None,
                       patience=args.patience, seed=args.seed, device=device, distributed=args.ddp, identify=args.identify,
                       checkpoint_dir=out / "checkpoints", resume=args.resume, progress=not args.no_progress)
    emb.fit(train, val if len(val) else None)
    if rank == 0:
        write_embedding(emb, store, out)  # model.pt, fbn_maps, training.csv: what a run writes to brain/
        _io.write_json(out / "split.json", split)
        names = [f"FBN-{k:02d}" for k in range(emb.maps_.shape[0])]
        parcels = describe_on_store(emb.maps_, store, names)
        if parcels is not None:  # HCP grayordinates: Yeo, Cole-Anticevic and Glasser names for every FBN
            _io.write_csv(out / "fbn_parcels.csv", parcels)
            first = parcels[(parcels["source"] == "yeo7:overlap") & (parcels["rank"] == 1)]
            print("Yeo 7 network of each FBN (Dice of its core):", ", ".join(f"{r.unit} {r.term} {r.score:.2f}"
                                                                            for r in first.itertuples()))
        print(f"{out}/model.pt: K={args.n_networks}, {len(train)} training segments of {len(split['train'])} subjects on "
              f"{world} process(es), best epoch {emb.history_.best_epoch + 1}, {time.perf_counter() - started:.0f} s")
    if args.ddp:  # before the interpreter exits: gloo's threads still holding tensors then abort it (pytorch #190489)
        import torch

        torch.distributed.destroy_process_group()
    return 0


def _add_scan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="dataset root (BIDS, fMRIPrep, HCP), a .txt list of NIfTI files, or .npy/.h5 arrays")
    p.add_argument("--layout", default="auto", help="auto (default), bids, fmriprep, hcp, nifti, arrays")
    p.add_argument("--task", help="keep only this BIDS task")
    p.add_argument("--space", default="MNI152NLin2009cAsym", help="fMRIPrep space (default MNI152NLin2009cAsym; 'any')")
    p.add_argument("--hcp-data", default="volume", choices=("volume", "cifti"), help="HCP volumes or CIFTI grayordinates")
    p.add_argument("--tr", type=float, help="repetition time in s (needed for arrays; checked against headers)")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from syncact.simulate import make_dataset

    ds = make_dataset(args.out, n_subjects=args.subjects, n_runs=args.runs, n_timepoints=args.timepoints,
                      tr=args.tr, seed=args.seed, space=args.space, progress=not args.no_progress)
    kind = "BIDS dataset" if ds.space == "MNI152" else "HCP-layout CIFTI dataset (59,412 cortical grayordinates)"
    print(f"{kind}: {ds.root.resolve()}  ({len(ds.subjects)} subjects, {len(ds.movies)} runs, "
          f"{ds.n_timepoints} volumes at TR={ds.tr:g} s)")
    return 0


def _cmd_layers(args: argparse.Namespace) -> int:
    import pandas as pd

    from syncact.ann import get_model
    from syncact.ann.registry import layer_table

    built = get_model(args.model, "random")
    table = pd.DataFrame(layer_table(built, all_modules=args.all))
    print(f"{built.name}: input {built.input_size} px; filters and map size at each layer (blank frame)")
    print(table.to_string(index=False))
    return 0


def _cmd_models(_args: argparse.Namespace) -> int:
    import pandas as pd

    from syncact.ann.registry import model_table

    table = pd.DataFrame(model_table()).drop(columns="description")
    print(table.to_string(index=False, na_rep="-"))
    print("\nAlso: 'timm:<name>' for any timm model (pip install 'syncact[timm]'), or wrap a network with "
          "syncact.ann.custom_model.")
    return 0


def _cmd_activations(args: argparse.Namespace) -> int:
    from syncact.ann import default_cache_dir, extract_activations, get_model
    from syncact.exceptions import ConfigError
    from syncact.stimulus import Frames, sync_frames

    out = Path(args.out)
    if out.exists():
        raise ConfigError(f"output {str(out)!r} exists; choose another path (nothing is overwritten).")
    source = Path(args.frames)
    if source.suffix == ".npz":
        frames = Frames.load(source)
    else:
        if args.tr is None or args.timepoints is None:
            raise ConfigError(f"{source.name} is a movie: give --tr and --timepoints to pick one frame per volume.")
        frames = sync_frames(source, args.tr, args.timepoints, offset=args.offset, progress=not args.no_progress)
    cache = {"none": None, "default": default_cache_dir()}.get(args.cache, args.cache)
    built = get_model(args.model, args.weights, seed=args.seed)
    started = time.perf_counter()
    acts = extract_activations(frames.images, built, args.layers, reduce=args.reduce, batch_size=args.batch_size,
                               device=args.device, precision=args.precision, cache=cache, progress=not args.no_progress)
    elapsed = time.perf_counter() - started
    acts.save(out)
    shapes = ", ".join(f"{k} {v.shape[1]}" for k, v in acts.layers.items())
    cached = acts.meta["cached_layers"]
    print(f"{len(frames)} frames -> {shapes} filters in {elapsed:.1f} s"
          f"{' (from cache: ' + ', '.join(cached) + ')' if cached else ''}; wrote {out}")
    return 0


def _image_set(spec: str, size: int):  # noqa: ANN202
    """``natural:N`` (scikit-image photographs) or a folder of images."""
    from syncact.stimulus import load_images, natural_images

    if spec.startswith("natural"):
        count = int(spec.split(":", 1)[1]) if ":" in spec else 16
        return natural_images(count, size)
    return load_images(spec, size)


def _cmd_synthesize(args: argparse.Namespace) -> int:
    import numpy as np

    from syncact.ann import get_model
    from syncact.rsa.synthesis import synthesize

    out = Path(args.out)
    if (out / "synthesis.json").exists():
        raise FileExistsError(f"{out} holds a synthesis already; choose a new folder.")
    built = get_model(args.model, args.weights, seed=args.seed)
    size = args.size or built.input_size
    reference = None if args.reference == "none" else _image_set(args.reference, size)[0]
    result = synthesize(built, args.layers, n_images=args.images, size=size, input_size=args.input_size,
                        steps=args.steps, lr=args.lr, jitter=args.jitter, smoothness=args.smoothness, spread=args.spread,
                        reference=reference, seed=args.seed, device=args.device, progress=not args.no_progress)
    result.save(out)
    summary = result.summary()
    np.set_printoptions(precision=3, suppress=True)
    print(f"Layers: {', '.join(args.layers)} of {built.name} ({built.weights})")
    if result.reference is not None:
        print(f"RDM similarity between layers, reference images (mean |r| {summary['mean_abs_r_reference']:.3f}):")
        print(result.reference.similarity())
    print(f"RDM similarity between layers, synthesised images (mean |r| {summary['mean_abs_r_synthesized']:.3f}):")
    print(result.rdms.similarity())
    print(f"Images, RDMs and history: {out.resolve()}")
    return 0


def _cmd_searchlight(args: argparse.Namespace) -> int:
    import pandas as pd

    from syncact.analysis import layer_mapping
    from syncact.ann import get_model
    from syncact.brain.patterns import image_patterns, patterns_from_dscalar, patterns_from_maps
    from syncact.exceptions import ConfigError
    from syncact.rsa.study import map_layers

    out = Path(args.out)
    if (out / "searchlight.json").exists():
        raise FileExistsError(f"{out} holds a searchlight result already; choose a new folder.")
    cifti = bool(args.maps) and str(args.maps).endswith(".dscalar.nii")
    if cifti and args.truth:
        raise ConfigError("--truth reads a simulated volume dataset's regions; it cannot score grayordinate maps.")
    built = get_model(args.model, args.weights, seed=args.seed)
    images, names = _image_set(args.images, built.input_size)
    if cifti:
        patterns = patterns_from_dscalar(args.maps)
    elif args.maps:
        folder = Path(args.maps)
        maps = {name: folder / f"{name}.nii.gz" for name in names}
        if not args.mask:
            raise ConfigError("--maps needs --mask (the voxels to search).")
        patterns = patterns_from_maps(maps, args.mask)
    elif args.bold:
        if not args.events or not args.tr:
            raise ConfigError("--bold needs --events (one per run) and --tr.")
        mask = args.mask
        if mask is None:
            from nilearn.masking import compute_epi_mask

            mask = compute_epi_mask(args.bold[0])
        patterns = image_patterns(args.bold, args.events, args.tr, mask_img=mask, method=args.glm, images=names,
                                  image_column=args.image_column, progress=not args.no_progress)
    else:
        raise ConfigError("give the image patterns: --maps DIR (one NIfTI per image) or --bold RUN... --events TSV...")
    result = map_layers(images, names, built, args.layers, patterns, residual=args.residual, radius_mm=args.radius,
                        method=args.method, n_perm=args.perm, seed=args.seed, progress=not args.no_progress,
                        executor=_executor(args))
    result.save(out, args.alpha)
    tables = result.tables(args.alpha)
    print(f"Layer RDM similarity (mean |r| {result.rdms.mean_abs_offdiagonal():.3f}):")
    print(tables["layer_similarity"].to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\nSearchlight ({result.params['n_spheres']} spheres of {args.radius} mm, {args.method}, "
          f"{'residual' if args.residual else 'layer'} RDMs, {args.perm} permutations):")
    print(tables["layers"].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if "dice" in tables:
        print(f"\nDice overlap of significant maps (family-wise alpha {args.alpha}):")
        print(tables["dice"].to_string(float_format=lambda v: f"{v:.3f}"))
    if args.truth:
        from nilearn.image import resample_to_img
        from nilearn.maskers import NiftiMasker

        truth = Path(args.truth)
        regions = pd.read_csv(truth / "regions.tsv", sep="\t")
        labels_img = resample_to_img(str(truth / "regions.nii.gz"), result.mask_img, interpolation="nearest",
                                     force_resample=True, copy_header=True)
        labels = NiftiMasker(result.mask_img, standardize=None).fit().transform(labels_img).ravel().round().astype(int) - 1
        mapping = layer_mapping(result.maps, labels, list(zip(regions["region"], regions["layer"], strict=True)),
                                alpha=args.alpha)
        print("\nRecovery of the planted layer-to-region mapping:")
        print(mapping.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nMaps and tables: {out.resolve()}")
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    import numpy as np

    from syncact.ann import Activations
    from syncact.brain import PreparedStore
    from syncact.encoding.store import atlas_networks, encode_store
    from syncact.exceptions import ConfigError

    out = Path(args.out)
    if (out / "encoding.json").exists():
        raise ConfigError(f"{out} holds an encoding result already; choose a new folder (nothing is overwritten).")
    store = PreparedStore(args.store)
    features = {}
    for spec in args.activations:
        run, sep, file = spec.partition("=")
        if not sep or not run or not file:
            raise ConfigError(f"--activations takes RUN=FILE (e.g. 1=acts_run-1.npz), got {spec!r}.")
        layers = Activations.load(file).layers
        chosen = args.layers or list(layers)
        unknown = [layer for layer in chosen if layer not in layers]
        if unknown:
            raise ConfigError(f"{file} has no layer {unknown}; it has {list(layers)}.")
        features[run] = {layer: layers[layer] for layer in chosen}
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="syncact-encode-"))
    try:
        result = encode_store(store, features, scratch, subjects=args.subjects, delays=args.delays,
                              n_components=args.components or None, n_iter=args.n_iter, chunk_size=args.chunk_size,
                              solver=args.solver, backend=args.backend, null=not args.no_null, seed=args.seed,
                              progress=not args.no_progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    networks = atlas_networks(store)
    result.save(out, store, networks=networks, alpha=args.alpha)
    from syncact import _io
    from syncact.report.surface import store_picture

    shown = np.where(result.scores.significant(args.alpha), result.scores.mean_r, 0.0)
    _io.write_bytes(out / "maps" / "r.png", store_picture(store, shown, "held-out r of the predicted voxels",
                                                          threshold=0.01))
    tables = result.tables(networks, args.alpha)
    fmt = {"index": False, "float_format": lambda v: f"{v:.3f}"}
    print(f"{len(result.subjects)} subjects, runs {', '.join(result.runs)}, delays {result.delays} TRs, "
          f"{result.scores.solver} solver ({result.scores.meta['backend']}):")
    print(tables["encoding"].to_string(**fmt))
    if "encoding_networks" in tables:
        print("\nYeo 2011 networks:" if store.kind == "cifti" else "\nDosenbach 2010 networks (voxels within 6 mm of a ROI centre):")
        print(tables["encoding_networks"].to_string(**fmt))
    interval, predicted = result.interval, result.scores.significant(args.alpha)
    if interval is not None and predicted.any() and np.isfinite(interval.low[predicted]).any():
        print(f"\nCeiled r of the {int(predicted.sum())} predicted voxels: median "
              f"{np.nanmedian(interval.value[predicted]):.2f}; its 95 % jackknife interval over subjects is "
              f"{np.nanmedian((interval.high - interval.low)[predicted]):.2f} wide (median; maps/ceiled_r_low, _high)")
    print(f"\nMaps and tables: {out.resolve()}")
    print(f"Wall time: {time.perf_counter() - started:.0f} s   Peak memory: {_peak_memory_gb():.2f} GB")
    return 0


def _cmd_simulate_rsa(args: argparse.Namespace) -> int:
    import numpy as np

    from syncact.ann import get_model
    from syncact.ann.probe import layer_patterns
    from syncact.simulate import DEFAULT_REGIONS, simulate_event_related
    from syncact.stimulus import save_images

    built = get_model(args.model, args.weights, seed=args.seed)
    images, names = _image_set(args.images, built.input_size)
    layers = sorted({r.layer for r in DEFAULT_REGIONS})
    features = {k: v.astype(np.float64) for k, v in layer_patterns(images, built, layers).items()}
    data = simulate_event_related(features, names, n_runs=args.runs, repeats=args.repeats, amplitude=args.amplitude,
                                  seed=args.seed)
    root = data.write(args.out)
    save_images(images, Path(args.out) / "stimuli", names)
    print(f"Simulated {args.runs} runs ({data.params['n_scans']} volumes each) of {len(names)} images, regions "
          f"encoding {', '.join(layers)} of {built.name}: {Path(root).resolve()}")
    return 0


def _add_model_arguments(p: argparse.ArgumentParser, default_model: str, *, layers: bool = True) -> None:
    """--model, --weights (and --layers) of the second seed's commands."""
    p.add_argument("--model", default=default_model, help=f"registered model (default {default_model})")
    p.add_argument("--weights", default="imagenet", help="imagenet, places365, random or a state-dict file")
    if layers:
        p.add_argument("--layers", nargs="+", default=["block1", "block2", "block3", "block4"])


def build_parser() -> argparse.ArgumentParser:
    from syncact.config import EmbeddingConfig  # light: the estimators (and torch) load when a command runs

    parser = argparse.ArgumentParser(prog="syncact", description="Couple CNN filters with functional brain networks "
                                     "from naturalistic fMRI (Sync-ACT).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate the embedded dataset and run the whole pipeline on it",
                       description="Generate the embedded naturalistic dataset (real photos, planted networks) and run "
                       "the whole Sync-ACT pipeline on it; prints the report path and a summary.")
    p.add_argument("--out", default="results/demo", help="run directory (default: results/demo)")
    p.add_argument("--subjects", type=int, default=10, help="number of simulated subjects (default: 10)")
    p.add_argument("--timepoints", type=int, default=200, help="volumes per run (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    p.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    p.add_argument("--space", default="MNI152", choices=("MNI152", "fsLR32k"),
                   help="MNI152: 4 mm volumes (BIDS, default); fsLR32k: HCP CIFTI grayordinates (cortex), networks in "
                   "real Yeo networks and Glasser areas, FBNs on the inflated surfaces")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("demo-rsa", help="the second seed on a simulated experiment: natural vs residual vs synthesised",
                       description="Simulate an event-related experiment in which four regions encode "
                       "EfficientNet-Lite0's block1..block4; map the layers with searchlight RSA for natural images, "
                       "their residual RDMs and layer-orthogonal synthesised images; print recovery and overlap.")
    p.add_argument("--out", default="results/demo-rsa", help="result folder (default results/demo-rsa)")
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--steps", type=int, default=150, help="synthesis steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_demo_rsa)

    p = sub.add_parser("run", help="run the pipeline from an experiment TOML", description="Run the Sync-ACT pipeline "
                       "described by an experiment TOML file.", epilog=EXAMPLE_CONFIG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="experiment TOML file")
    p.add_argument("--out", help="run directory (default: results/<name>)")
    p.add_argument("--workers", type=int, help="run the units (preparation, frames, extraction, embedding fits, pairing) "
                   "on a local Dask cluster of N workers")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (e.g. tcp://host:8786; dask-jobqueue)")
    p.add_argument("--resume", action="store_true", help="continue the embedding's training from the run directory's "
                   "checkpoint (after a kill); the final weights equal an uninterrupted run's")
    p.add_argument("--overwrite", action="store_true", help="replace the results of another configuration's run in --out "
                   "(refused without it)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("tables", help="print the paper's tables from a run directory",
                       description="Print the paper-style tables of a finished run (models x runs for Eq.2 and Eq.1, "
                       "layers with Ratio, Eq.1 vs Eq.2, the accuracy regression, significant pairs per test).")
    p.add_argument("run_dir", help="run directory written by `syncact run` or `syncact demo`")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("units", help="list a run directory's unit results; --prune removes those the last run did not use",
                       description="List the finished units of a run directory (units/) by stage, with their size and "
                       "how many the last run did not use (results of older configurations). --prune deletes those; "
                       "it refuses while the last run has not finished.")
    p.add_argument("run_dir", help="run directory written by `syncact run` or `syncact demo`")
    p.add_argument("--prune", action="store_true", help="delete the results the last run did not use")
    p.set_defaults(func=_cmd_units)

    p = sub.add_parser("simulate", help="write the embedded dataset (BIDS volumes or HCP CIFTI)", description="Write the "
                       "embedded naturalistic dataset (movies + simulated BOLD + ground truth) as a BIDS folder, or "
                       "with --space fsLR32k as CIFTI grayordinates in the HCP layout.")
    p.add_argument("out", help="output folder (must not exist or be empty)")
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--timepoints", type=int, default=200)
    p.add_argument("--tr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--space", default="MNI152", choices=("MNI152", "fsLR32k"),
                   help="MNI152: 4 mm volumes as BIDS (default); fsLR32k: the HCP standard cortical grayordinates as "
                   "CIFTI dense time series in the HCP layout")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("inspect", help="say what a dataset holds (layout, subjects, runs, TR, grids, problems)",
                       description="Scan a dataset's headers and print what was found and every problem (exit 1 if any).")
    _add_scan_arguments(p)
    p.add_argument("--runs", action="store_true", help="also list every run")
    p.add_argument("--deep", action="store_true", help="also read every file to its end (finds damage inside a "
                   "compressed stream; the default check is the file's size against its header)")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("prepare", help="resample, mask, clean and z-score every run into a Zarr store",
                       description="Prepare every run once (one at a time: memory does not grow with subjects) into a "
                       "chunked Zarr store that later stages stream from. Rerunning resumes.")
    _add_scan_arguments(p)
    p.add_argument("--out", required=True, help="the store, e.g. prepared.zarr")
    p.add_argument("--target", default="mni152", choices=("mni152", "native"), help="target grid (default mni152)")
    p.add_argument("--resolution", type=int, default=4, help="MNI152 voxel size in mm (default 4, the paper)")
    p.add_argument("--mask", default="template", help="template (MNI152 brain mask), intersect, or a NIfTI mask")
    p.add_argument("--high-pass", type=float, default=0.01, help="cosine high-pass cutoff in Hz (0 disables)")
    p.add_argument("--no-detrend", action="store_true", help="keep linear trends")
    p.add_argument("--confounds", help="fMRIPrep columns or presets joined by '+', e.g. motion24+wm_csf")
    p.add_argument("--workers", type=int, help="prepare runs on a local Dask cluster of N worker processes")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (its workers must see --out)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("embed", help="train the FBN embedding on a prepared store (on several GPUs with torchrun --ddp)",
                       description="Train the Sync-ACT embedding on the training subjects of a prepared store and write "
                       "model.pt (FBNEmbedding.load), fbn_maps.nii.gz (fbn_maps.dscalar.nii for CIFTI grayordinates), training.csv "
                       "and split.json to --out. Under "
                       "torchrun with --ddp, every process trains on its share of each batch (PyTorch DDP; NCCL on GPUs, "
                       "gloo on CPUs) and rank 0 writes: torchrun --nproc-per-node 4 -m syncact.cli embed store.zarr "
                       "--out emb --ddp")
    p.add_argument("store", help="a prepared store (syncact prepare)")
    p.add_argument("--out", required=True, help="output folder")
    e = EmbeddingConfig()  # the defaults of [embedding], which tests/test_cli.py ties to FBNEmbedding's
    p.add_argument("--n-networks", type=int, default=e.n_networks, help=f"number K of FBNs (default {e.n_networks})")
    p.add_argument("--temporal", default=e.temporal, help=f"temporal module: msa, lstm or none (default {e.temporal})")
    p.add_argument("--n-heads", type=int, default=e.n_heads, help=f"attention heads (default {e.n_heads})")
    p.add_argument("--epochs", type=int, default=e.n_epochs, help=f"default {e.n_epochs}")
    p.add_argument("--lr", type=float, default=e.learning_rate, help=f"learning rate (default {e.learning_rate})")
    p.add_argument("--batch-size", type=int, default=e.batch_size, help=f"default {e.batch_size}")
    p.add_argument("--components", type=int, default=e.n_components,
                   help=f"principal subspace size (default {e.n_components}; 0: train on all voxels)")
    p.add_argument("--patience", type=int, default=e.patience, help="early stopping on the validation loss")
    p.add_argument("--split", default=",".join(f"{f:g}" for f in e.split), help="train,validation,test fractions of subjects")
    p.add_argument("--segment-length", type=int, default=e.segment_length,
                   help="cut runs into pieces of this many TRs (StudyForrest: 430)")
    p.add_argument("--identify", default=e.identify,
                   help="ica (default): spatially independent maps, absorbed exactly into the network; none: raw weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="device without --ddp (cpu, cuda, cuda:1)")
    p.add_argument("--ddp", action="store_true", help="data-parallel over the processes torchrun started")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoints")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("encode", help="voxelwise encoding models of a prepared store, with noise ceilings",
                       description="Fit banded-ridge encoding models (one band per layer, FIR delays, himalaya) of every "
                       "voxel of the subjects' mean BOLD, leaving one run out; score held-out r, R² and its split per "
                       "layer against a circular-shift null and a mismatched-movie control; give the noise ceiling from "
                       "leave-one-out inter-subject correlation. Writes maps/, tables/ and encoding.json to --out.")
    p.add_argument("store", help="a prepared store (syncact prepare)")
    p.add_argument("--activations", nargs="+", required=True, metavar="RUN=FILE",
                   help="per run, filter activations synchronised to its volumes (syncact activations ... --tr --timepoints)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--layers", nargs="+", help="layers used as bands (default: every layer in the files)")
    p.add_argument("--subjects", nargs="+", help="subjects averaged (default: every subject with all the runs)")
    p.add_argument("--delays", nargs="+", type=int, help="delays in TRs (default: those covering 2-8 s)")
    p.add_argument("--components", type=int, default=0, help="principal components kept per layer (default 0: all)")
    p.add_argument("--n-iter", type=int, default=10, help="band-weight candidates of the banded ridge (default 10)")
    p.add_argument("--chunk-size", type=int, default=4096, help="voxels fitted at a time (memory; default 4096)")
    p.add_argument("--solver", default="auto", choices=("auto", "primal", "dual"), help="default: by shape")
    p.add_argument("--backend", default="auto", choices=("auto", "numpy", "torch", "torch_cuda"),
                   help="himalaya's backend (default auto: torch on a GPU, else numpy)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of each voxel's circular-shift test (default 0.05)")
    p.add_argument("--no-null", action="store_true", help="skip the mismatched-movie control (halves the time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("layers", help="list a model's layer aliases (and modules)", description="List the layer "
                       "aliases of a registered model, and with --all every module name usable as a layer.")
    p.add_argument("model")
    p.add_argument("--all", action="store_true", help="list every module")
    p.set_defaults(func=_cmd_layers)

    p = sub.add_parser("models", help="list registered models", description="List the registered models with their "
                       "input size, weight sets and published ImageNet top-1 accuracy.")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("activations", help="filter temporal activations of one model for a movie or frames file",
                       description="Compute the temporal activation of every filter of some layers (one value per "
                       "frame), reading and filling the activation cache.")
    p.add_argument("frames", help="frames .npz written by a run (frames/run-*.npz) or a movie file")
    p.add_argument("--model", required=True, help="registered model name or timm:<name> (see `syncact models`)")
    p.add_argument("--weights", default="imagenet", help="imagenet, places365, random or a state-dict file")
    p.add_argument("--layers", nargs="+", default=["last_conv"], help="aliases or module names (default: last_conv)")
    p.add_argument("--reduce", default="max", help="max (default), mean, l2 or topk:K")
    p.add_argument("--out", required=True, help="output .npz (must not exist)")
    p.add_argument("--tr", type=float, help="TR in s (movie input)")
    p.add_argument("--timepoints", type=int, help="number of volumes (movie input)")
    p.add_argument("--offset", type=float, default=0.0, help="movie time at the first volume (movie input)")
    p.add_argument("--batch-size", type=int, help="frames per forward pass (default 8 on CPU, 64 on a GPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", help="auto, float32, bfloat16 or float16 (GPU)")
    p.add_argument("--cache", default="default", help="activation cache: default, none, or a directory")
    p.add_argument("--seed", type=int, default=0, help="seed of random weights")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_activations)

    p = sub.add_parser("synthesize", help="synthesise images whose layer RDMs are orthogonal",
                       description="Optimise images so that the RDMs of the chosen layers are as uncorrelated as "
                       "possible (layer-orthogonal image synthesis); writes PNGs, RDMs and the optimisation history.")
    _add_model_arguments(p, "googlenet")  # the paper's network; efficientnet_lite0 works offline
    p.add_argument("--images", type=int, default=16, help="number of images (default 16)")
    p.add_argument("--size", type=int, help="image side in pixels (default: the model's input size)")
    p.add_argument("--input-size", type=int, help="network input side (default: the model's); smaller is faster")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--jitter", type=int, default=8)
    p.add_argument("--smoothness", type=float, default=0.05)
    p.add_argument("--spread", type=float, default=0.2, help="reward for each layer RDM's spread (default 0.2)")
    p.add_argument("--reference", default="natural:16", help="natural:N, a folder of images, or none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output folder (must not hold a synthesis)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_synthesize)

    p = sub.add_parser("searchlight", help="map network layers to the brain with searchlight RSA",
                       description="RDMs of an image set at each layer, image-specific fMRI patterns (beta maps or "
                       "a GLM of event-related runs), searchlight RSA with a max-statistic permutation test; writes "
                       "NIfTI maps (per layer, winner-take-all), Dice overlaps and tables.")
    p.add_argument("--images", required=True, help="folder of the images shown (file stems name them) or natural:N")
    _add_model_arguments(p, "efficientnet_lite0")
    p.add_argument("--maps", help="folder of one pattern map per image: <image>.nii.gz; or one CIFTI .dscalar.nii "
                   "with a map per image, named by it (grayordinates: geodesic discs on the fsLR 32k midthickness)")
    p.add_argument("--bold", nargs="+", help="event-related BOLD runs")
    p.add_argument("--events", nargs="+", help="events.tsv per run (onset, duration, image column)")
    p.add_argument("--image-column", default="trial_type")
    p.add_argument("--tr", type=float)
    p.add_argument("--glm", default="lsa", choices=("lsa", "lss"))
    p.add_argument("--mask", help="brain mask NIfTI (default with --bold: nilearn's EPI mask of the first run)")
    p.add_argument("--radius", type=float, default=8.0, help="sphere (or surface disc) radius in mm (default 8)")
    p.add_argument("--method", default="spearman", choices=("spearman", "pearson", "kendall_tau_a", "cosine"))
    p.add_argument("--perm", type=int, default=1000, help="label permutations (default 1000; 0: no test)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--residual", action="store_true", help="map residual RDMs (the residual method)")
    p.add_argument("--truth", help="ground-truth folder of a simulated dataset (derivatives/ground_truth)")
    p.add_argument("--workers", type=int, help="run sphere ranges on a local Dask cluster of N workers")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (must not hold a searchlight result)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_searchlight)

    p = sub.add_parser("simulate-rsa", help="write a simulated event-related image experiment as BIDS",
                       description="Simulate an event-related fMRI experiment in which four regions encode a "
                       "network's block1..block4 (the test bed of the searchlight); writes BIDS runs, events, the "
                       "stimuli and derivatives/ground_truth.")
    p.add_argument("out", help="output folder (must not exist or be empty)")
    p.add_argument("--images", default="natural:16", help="natural:N or a folder of images")
    _add_model_arguments(p, "efficientnet_lite0", layers=False)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--amplitude", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_simulate_rsa)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``syncact`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if getattr(args, "out", None) and args.func is not _cmd_activations:  # a folder: refuse a file there first
            from syncact._validation import check_output_dir

            check_output_dir(args.out, "--out")
        return args.func(args)
    except (SyncactError, FileExistsError) as exc:
        print(f"syncact: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused: name the path, no traceback
        if exc.filename is None:
            raise
        print(f"syncact: error: cannot use {exc.filename!s}: {exc.strerror or exc}; check the path and its permissions.",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
