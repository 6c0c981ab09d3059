"""Filter temporal activations: one forward pass per batch of frames, reduced inside the hooks.

For filter ``f`` of a layer and frame ``t``, ``a_f(t) = reduce(feature_map_f(t))`` with the spatial
max by default (the paper). The reduction runs inside the forward hook on the model's device, so only
O(F) numbers per frame leave the hook whatever the feature-map size; the (T, F) result is all that is
kept. Several layers are read in one forward pass.

Speed (measured in ``benchmarks/bench_extract.py``): inference runs on a private copy of the network
with eval-mode batch norms folded into the preceding convolutions (skipped for any convolution whose
own output is hooked), in channels-last memory layout on CPU, under ``torch.inference_mode``; batches
are prepared (decoded, resized, normalised) in a background thread while the previous batch runs; on
a GPU, frames travel as uint8 from pinned memory and the forward runs under autocast (float16).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_choice, check_file, check_positive
from syncact.ann.cache import ActivationCache, frames_digest
from syncact.ann.inference import HeapGuard, inference_copy
from syncact.ann.preprocessing import check_frames
from syncact.ann.reducers import Reducer, get_reducer
from syncact.ann.registry import BuiltModel, LayerSpec, get_model, weights_label
from syncact.exceptions import ConfigError, CorruptFileError, ShapeError

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Activations:
    """Temporal activations of the filters of one model's layers.

    Attributes
    ----------
    model, weights, reduce : str
        What produced them.
    layers : dict of str to ndarray of shape (n_timepoints, n_filters)
        Activation of every filter at every time point, per layer (float32).
    meta : dict
        Provenance (weights digest, preprocessing, hooked modules, precision, ImageNet top-1 accuracy when
        known, and which layers came from the cache).
    """

    model: str
    weights: str
    reduce: str
    layers: dict[str, np.ndarray]
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_timepoints(self) -> int:
        return int(next(iter(self.layers.values())).shape[0])

    def to_xarray(self, layer: str):  # noqa: ANN201 - xarray is imported lazily
        """One layer as an ``xarray.DataArray`` with dims (time, filter) and the provenance as attrs."""
        import xarray as xr

        attrs = {"model": self.model, "weights": self.weights, "reduce": self.reduce, "layer": layer}
        attrs.update({k: json.dumps(v, default=str) for k, v in self.meta.items()})
        arr = self.layers[layer]
        return xr.DataArray(arr, dims=("time", "filter"), coords={"time": np.arange(arr.shape[0]),
                            "filter": np.arange(arr.shape[1])}, name="activation", attrs=attrs)

    def save(self, path: str | Path) -> Path:
        """Save to ``path`` (``.npz``) atomically."""
        header = {"model": self.model, "weights": self.weights, "reduce": self.reduce, "meta": self.meta}
        arrays = {f"layer:{name}": arr for name, arr in self.layers.items()}
        return _io.save_npz(path, header=np.array(json.dumps(header, default=str)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Activations:
        """Load activations saved by :meth:`save`."""
        path = check_file(path, "activations file")
        try:
            with np.load(path) as data:
                header = json.loads(str(data["header"]))
                layers = {k.removeprefix("layer:"): data[k] for k in data.files if k.startswith("layer:")}
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptFileError(f"activations file {str(path)!r} cannot be read ({exc}); delete it to recompute.") from exc
        return cls(layers=layers, **header)


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(frames: np.ndarray | Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """uint8 batches of at most ``batch_size`` frames from an array or an iterable of frames/batches."""
    if isinstance(frames, np.ndarray):
        for start in range(0, frames.shape[0], batch_size):
            yield frames[start : start + batch_size]
        return
    pending: list[np.ndarray] = []
    count = 0
    for item in frames:
        item = np.asarray(item)
        item = item[None] if item.ndim == 3 else item
        check_frames(item)
        pending.append(item)
        count += item.shape[0]
        while count >= batch_size:
            joined = np.concatenate(pending)
            yield joined[:batch_size]
            rest = joined[batch_size:]
            pending, count = ([rest] if rest.shape[0] else []), rest.shape[0]
    if count:
        yield np.concatenate(pending)


def _prefetch(source: Iterator[torch.Tensor], depth: int) -> Iterator[torch.Tensor]:
    """Run ``source`` in a background thread, ``depth`` items ahead; errors re-raised in the caller."""
    if depth <= 0:
        yield from source
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=work, name="syncact-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _resolve_precision(precision: str, device: torch.device) -> str:
    check_choice("precision", precision, PRECISIONS)
    if precision == "auto":
        return "float16" if device.type == "cuda" else "float32"
    if precision == "float16" and device.type == "cpu":
        raise ConfigError("precision='float16' is for GPUs; on CPU use 'bfloat16' or 'float32'.")
    return precision


def cache_key(built: BuiltModel, spec: LayerSpec, reducer: Reducer, frames_key: str, *, precision: str,
              fold_bn: bool, channels_last: bool) -> dict[str, object]:
    """Everything that changes one layer's activations (see :mod:`syncact.ann.cache`)."""
    from syncact.ann.cache import CACHE_VERSION

    key = {"version": CACHE_VERSION, "frames": frames_key, "model": built.name, "weights_digest": built.weights_digest,
           "module": spec.key(), "reducer": reducer.spec, "preprocessing": built.preprocessing.key(),
           "precision": precision, "fold_bn": bool(fold_bn), "channels_last": bool(channels_last)}
    if fold_bn:  # what the inference copy does beyond folding (syncact.ann.inference), since it changes the rounding
        key["inference"] = "fold+pad+inplace"
    return key


CPU_BATCH = 8
"""Frames per forward pass on CPU. Larger batches are slower there: a layer's output past 32 MB (ResNet-50's first
block at 32 frames: 100 MB) is a fresh ``mmap`` from glibc on every call, page-faulted in, and it falls out of the
caches; at 8 frames ResNet-50 ran 1.7x, ResNet-18 1.2x and EfficientNet-Lite0 1.9x faster than at 32 (best of 3,
interleaved, benchmarks/bench_extract.py --batch-sweep)."""


def default_batch_size(device: str | torch.device) -> int:
    """Frames per forward pass when none is given: :data:`CPU_BATCH` on CPU, 64 on a GPU.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    int
    """
    return CPU_BATCH if torch.device(device).type == "cpu" else 64


def extract_activations(
    frames: np.ndarray | Iterable[np.ndarray],
    model: str | BuiltModel,
    layers: Sequence[str],
    *,
    weights: str = "imagenet",
    reduce: str | Reducer = "max",
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    precision: str = "auto",
    fold_bn: bool = True,
    channels_last: bool = True,
    num_threads: int | None = None,
    prefetch: int = 2,
    cache: str | Path | ActivationCache | None = None,
    frames_key: str | None = None,
    progress: bool = False,
) -> Activations:
    """Temporal activation of every filter of ``layers`` over a frame sequence.

    Parameters
    ----------
    frames : ndarray of shape (n_timepoints, height, width, 3), uint8, or an iterable of such arrays
        One frame per fMRI time point (see :func:`syncact.stimulus.sync_frames`). An iterable (of single
        frames or of batches, e.g. a decoder) is consumed in a background thread while the network runs.
    model : str or BuiltModel
        A registered model name, or a model from :func:`get_model` / :func:`custom_model`.
    layers : sequence of str
        Layer aliases (``block1``..``block4``, ``last_conv``, ``last_layer``) or module names; all are read
        in one forward pass.
    weights : str, default="imagenet"
        Weights when ``model`` is a name.
    reduce : str, default="max"
        Spatial reduction of each feature map: "max" (the paper), "mean", "l2" or "topk:K".
    batch_size : int, optional
        Frames per forward pass; memory grows with it, not with the movie length. None:
        :func:`default_batch_size` of the device (8 on CPU, 64 on CUDA).
    device : str or torch.device, default="cpu"
    precision : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        "auto" is float32 on CPU and float16 autocast on CUDA. Part of the cache key.
    fold_bn : bool, default=True
        Fold batch norms into convolutions, symmetric "same" paddings into their convolutions
        (:func:`pad_into_conv`) and run activations in place where safe (:func:`inplace_activations`), on a
        private copy (faster; equal to 1e-5 relative).
    channels_last : bool, default=True
        Use the channels-last memory layout for convolutional networks (faster with oneDNN and cuDNN).
    num_threads : int, optional
        torch intra-op threads during the call (restored afterwards); None keeps torch's setting.
    prefetch : int, default=2
        Batches prepared ahead in a background thread; 0 disables the thread.
    cache : str, Path or ActivationCache, optional
        Activation cache directory; layers found there are read, the others computed and stored.
    frames_key : str, optional
        Identity of the frames for the cache when ``frames`` is an iterable (e.g. the movie's SHA-256 and
        the sync parameters); computed from the bytes when ``frames`` is an array.
    progress : bool, default=False
        Show a progress bar over batches.

    Returns
    -------
    Activations
        ``layers[name]`` of shape (n_timepoints, n_filters), float32.
    """
    if isinstance(frames, np.ndarray):
        check_frames(frames)
    elif not isinstance(frames, Iterable) or isinstance(frames, (str, bytes)):
        check_frames(frames)  # raises with the expected type
    reducer = get_reducer(reduce)
    if batch_size is None:
        batch_size = default_batch_size(device)
    check_positive("batch_size", batch_size, integer=True)
    check_positive("prefetch", prefetch, integer=True, allow_zero=True)
    if isinstance(layers, str) or not layers:
        raise ShapeError(f"layers must be a non-empty list of layer names (e.g. ['last_conv']), got {layers!r}.")
    built = model if isinstance(model, BuiltModel) else get_model(model, weights)
    device = torch.device(device)
    precision = _resolve_precision(precision, device)
    specs = {name: built.resolve_layer(name) for name in dict.fromkeys(layers)}

    store = ActivationCache(cache) if isinstance(cache, (str, Path)) else cache
    keys: dict[str, dict[str, object]] = {}
    paths: dict[str, Path] = {}
    found: dict[str, np.ndarray] = {}
    if store is not None:
        if frames_key is None:
            if not isinstance(frames, np.ndarray):
                raise ConfigError("cache needs frames_key when frames is an iterable (e.g. the movie digest and sync settings).")
            frames_key = f"sha256:{frames_digest(frames)}"
        for name, spec in specs.items():
            keys[name] = cache_key(built, spec, reducer, frames_key, precision=precision, fold_bn=fold_bn,
                                   channels_last=channels_last)
            paths[name] = store.path(keys[name], model=built.name, weights_label=weights_label(built.weights), layer=name)
            hit = store.load(paths[name], keys[name])
            if hit is not None:
                found[name] = hit
    todo = {name: spec for name, spec in specs.items() if name not in found}

    computed: dict[str, np.ndarray] = {}
    if todo:
        computed = _run(frames, built, todo, reducer, batch_size=batch_size, device=device, precision=precision,
                        fold_bn=fold_bn, channels_last=channels_last, num_threads=num_threads, prefetch=prefetch,
                        progress=progress)
        if store is not None:
            for name, arr in computed.items():
                store.store(paths[name], keys[name], arr, {"layer": name, "model": built.name, "weights": built.weights,
                                                    "torch": torch.__version__})
    lengths = {arr.shape[0] for arr in [*found.values(), *computed.values()]}
    if len(lengths) != 1:
        raise ShapeError(f"cached and computed layers disagree on the number of frames ({sorted(lengths)}); clear {store}.")
    meta = {
        "weights_digest": built.weights_digest,
        "preprocessing": built.preprocessing.key(),
        "input_size": built.input_size,
        "top1_accuracy": built.top1_accuracy,
        "modules": {name: spec.key() for name, spec in specs.items()},
        "precision": precision,
        "fold_bn": fold_bn,
        "cached_layers": sorted(found),
    }
    result = {name: found[name] if name in found else computed[name] for name in specs}
    return Activations(model=built.name, weights=built.weights, reduce=reducer.spec, layers=result, meta=meta)


def _run(frames: np.ndarray | Iterable[np.ndarray], built: BuiltModel, specs: dict[str, LayerSpec], reducer: Reducer, *,
         batch_size: int, device: torch.device, precision: str, fold_bn: bool, channels_last: bool,
         num_threads: int | None, prefetch: int, progress: bool) -> dict[str, np.ndarray]:
    """The forward passes with hooks; returns {layer: (n_frames, n_filters) float32}."""
    hooked = {spec.module for spec in specs.values()}
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in specs}
    pin = device.type == "cuda"
    autocast = _DTYPES.get(precision)

    def make_hook(name: str, post: Callable[[torch.Tensor], torch.Tensor] | None):  # noqa: ANN202
        def hook(_module, _inputs, output) -> None:  # noqa: ANN001
            out = output[0] if isinstance(output, (tuple, list)) else output
            if post is not None:
                out = post(out)
            collected[name].append(reducer(out).float().to("cpu", non_blocking=pin))

        return hook

    def prepared() -> Iterator[torch.Tensor]:
        for batch in _batches(frames, batch_size):
            x = torch.from_numpy(np.ascontiguousarray(batch))
            if pin:
                x = x.pin_memory()
            x = built.preprocessing(x, device)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x

    n_total = frames.shape[0] if isinstance(frames, np.ndarray) else None
    with _torch_threads(num_threads):
        module = inference_copy(built, hooked, device, fold_bn=fold_bn, channels_last=channels_last)
        modules = dict(module.named_modules())
        handles = [modules[spec.module].register_forward_hook(make_hook(name, spec.post)) for name, spec in specs.items()]
        bar = tqdm(total=n_total, desc=built.name, unit="frame", disable=_io.bar_disabled(progress), leave=False)
        try:
            with torch.inference_mode(), torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                heap = HeapGuard()
                for x in _prefetch(prepared(), prefetch):
                    module(x)
                    bar.update(x.shape[0])
                    heap.check()
        finally:
            bar.close()
            for handle in handles:
                handle.remove()
    if pin:
        torch.cuda.synchronize(device)
    if not any(collected.values()):
        raise ShapeError("frames is empty (0 frames): nothing to extract.")
    return {name: torch.cat(chunks).numpy().astype(np.float32, copy=False) for name, chunks in collected.items()}
