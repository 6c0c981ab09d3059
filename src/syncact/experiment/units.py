"""The units a run is made of: module-level functions with plain arguments (keys of the unit store).

Each is run by :func:`syncact.units.run_plan`, in this process or on a Dask worker; its result is
stored under ``<run>/units`` and reused by a rerun with the same inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from syncact import _io
from syncact.analysis.comparison import Fit
from syncact.ann import Activations, extract_activations, get_model
from syncact.ann.registry import LOGITS
from syncact.config import ModelConfig, PairingConfig
from syncact.encoding import EncodingScores, band_features, fit_encoding, isc, mean_ceiling
from syncact.exceptions import DataError
from syncact.networks import BrainNetworks
from syncact.stimulus import Frames, sync_frames
from syncact.sync import Pairing, as_paired, pair, subject_jackknife

logger = logging.getLogger(__name__)


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


def extract_unit(frames: Mapping[str, str], spec: ModelConfig, seed: int, layers: list[str], device: str,
                 cache: str | None, out_file: Path) -> Activations:
    """Unit: one model's activations on one run's frames (through the activation cache), saved to the run directory.

    ``frames`` is the result of that run's :func:`frames_unit` (its file and SHA-256).
    """
    if _io.file_sha256(frames["file"]) != frames["sha256"]:
        raise DataError(f"{frames['file']} changed after its frames unit wrote it; run the experiment again.")
    images = Frames.load(frames["file"]).images
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
    result = pair(fbn, filters, fbn_names=fbn_names, filter_names=filter_names, tr=tr, seed=seed, **pc.pair_kwargs())
    extra: dict[str, object] = {}
    if subjects.shape[0] >= 3:  # jackknife intervals over test subjects: pcc_low/high on Eq.2, the mean's on the row
        paired = as_paired(filters, hrf=pc.hrf, tr=tr)
        table, (low, high) = subject_jackknife(subjects, paired, result.eq2["filter_index"].to_numpy(), level=pc.confidence)
        result.eq2["pcc_low"], result.eq2["pcc_high"] = table["pcc_low"].to_numpy(), table["pcc_high"].to_numpy()
        extra.update({"mean_pcc_low": low, "mean_pcc_high": high})
    else:
        logger.info("%d test subject(s): no confidence interval over subjects (needs 3).", subjects.shape[0])
    if control_filters is not None:
        # the FBNs against the next run's movie: nothing links them, so the share of significant pairs here
        # estimates the false-positive rate of the whole pipeline
        n = min(len(control_filters), len(fbn))
        control = pair(fbn[:n], control_filters[:n], tr=tr, **pc.pair_kwargs(extras=False))
        extra.update({"control_movie_run": control_run, "control_mean_pcc": control.mean_pcc,
                      "control_n_significant": int(control.eq2["significant"].sum())})
    return result, extra


def alive_filters(filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filters that vary over the movie (a constant one has no correlation) and their indices in the layer.

    Returns
    -------
    filters : ndarray of shape (n_timepoints, n_alive)
    indices : ndarray of int, shape (n_alive,)
    """
    alive = filters.std(axis=0) > 1e-8
    if not alive.all():
        logger.info("%d of %d filters are constant over the movie and are left out of the pairing.", (~alive).sum(), alive.size)
    return filters[:, alive], np.flatnonzero(alive)


def filter_names_of(indices: np.ndarray) -> list[str]:
    """The names filters have in tables: ``filter-<index in the layer>``."""
    return [f"filter-{j}" for j in indices]


def check_networks(embedding: BrainNetworks, method: str) -> None:
    """Refuse an embedding with an all-zero map (its FBN has no activation to pair)."""
    empty = np.flatnonzero(~np.any(embedding.maps_, axis=1))
    if empty.size:
        raise DataError(f"[embedding] method={method!r} returned {empty.size} empty network(s) {empty[:8].tolist()} "
                        "(all-zero maps have no activation to pair); ask for fewer networks or less sparsity.")


def fbn_activations(embedding: BrainNetworks, runs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The FBN activations of every subject's run (``per_subject``, (n_subjects, T, K)) and their ``mean`` (T, K)."""
    per_subject = np.stack([embedding.transform(x) for x in runs])
    return {"per_subject": per_subject, "mean": per_subject.mean(axis=0)}


def transform_unit(fit: Fit, runs: Sequence[np.ndarray], method: str) -> dict[str, np.ndarray]:
    """Unit: :func:`fbn_activations` of every test subject on one run under a fit (the result of
    :func:`syncact.analysis.fit_networks`), refused if a map is empty."""
    check_networks(fit.model, method)
    return fbn_activations(fit.model, runs)


def pair_layer_unit(fbns: Mapping[str, np.ndarray], acts: Activations, control: Activations | None, layer: str,
                    control_run: str | None, pairing: PairingConfig, seed: int, tr: float) -> tuple[Pairing, dict[str, object]]:
    """Unit: :func:`pair_unit` on one run's FBN activations (``fbns``: :func:`transform_unit`'s result; FBNs named
    ``FBN-<k>``) and one layer of that run's activations (``acts``), its non-constant filters; ``control``: another
    run's activations."""
    filters, indices = alive_filters(acts.layers[layer])
    control_filters = None if control is None else alive_filters(control.layers[layer])[0]
    fbn_names = [f"FBN-{k:02d}" for k in range(np.shape(fbns["mean"])[1])]
    return pair_unit(fbns["mean"], fbn_names, filters, filter_names_of(indices), fbns["per_subject"], control_filters,
                     control_run, pairing, seed, tr)


def bands_unit(acts: Sequence[Activations], layers: list[str], delays: list[int],
               n_components: int | None) -> dict[str, list[np.ndarray]]:
    """Unit: one model's encoding feature bands (:func:`syncact.encoding.band_features`) from its activations on
    every run (``acts``, in the order of the encoding's runs)."""
    return band_features({layer: [a.layers[layer] for a in acts] for layer in layers}, delays, n_components=n_components)


def _targets(per_run: list[np.ndarray], means: list[np.ndarray]) -> dict[str, object]:
    """Encoding targets per run and the noise ceiling of the subjects' mean (NaN with one subject)."""
    if per_run[0].shape[0] < 2:  # (n_subjects, T, n_targets) per run: no other subject to correlate with
        return {"targets": means, "ceiling": np.full(per_run[0].shape[2], np.nan)}
    return {"targets": means, "ceiling": mean_ceiling([isc(d) for d in per_run])}


def bold_targets_unit(runs: Mapping[str, Sequence[np.ndarray]]) -> dict[str, object]:
    """Unit: per run, the test subjects' mean BOLD (``targets``), and every voxel's noise ceiling for that mean
    (:func:`syncact.encoding.mean_ceiling`); ``runs``: run label -> each test subject's run, each read once."""
    per_run = [np.stack([np.asarray(x) for x in subjects]) for subjects in runs.values()]
    return _targets(per_run, [np.mean(d, axis=0) for d in per_run])


def fbn_targets_unit(transforms: Sequence[Mapping[str, np.ndarray]]) -> dict[str, object]:
    """Unit: :func:`bold_targets_unit` for the FBN activations (``transforms``: :func:`transform_unit` results)."""
    return _targets([np.asarray(t["per_subject"]) for t in transforms], [np.asarray(t["mean"]) for t in transforms])


def encoding_unit(bands: Mapping[str, list[np.ndarray]], targets: Mapping[str, object], rotate: bool,
                  keep_predictions: bool, fit_kwargs: Mapping[str, object], **settings: object) -> EncodingScores:
    """Unit: a banded-ridge encoding model, leave one run out (:func:`syncact.encoding.fit_encoding`) of
    ``targets["targets"]`` (a targets unit's result). ``rotate``: each run's features paired with the next run's
    targets (the null)."""
    if rotate:
        bands = {layer: [*runs[1:], runs[0]] for layer, runs in bands.items()}
    return fit_encoding(bands, targets["targets"], keep_predictions=keep_predictions, **fit_kwargs, **settings)
