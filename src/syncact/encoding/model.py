"""Voxelwise (or FBN-wise) encoding: banded ridge with one band per layer, cross-validated over runs.

For each held-out run (outer leave-one-run-out), himalaya fits a ridge on the other runs with its
hyperparameters chosen by an inner leave-one-run-out (5 contiguous folds when only one run is left):
the banded ridge (one regularisation per band, random search on the simplex of band weights) in its
primal form (``GroupRidgeCV``; ``RidgeCV`` for one band) when the bands hold fewer than half as many
features as the training set has time points, else in its dual, kernel form (himalaya's random search on
the bands' linear kernels): the cheaper one for the shape (measured, :data:`PRIMAL_BELOW`), same model.
The held-out run is predicted and scored per target: correlation, R², and R² split by band (himalaya's
product-measure split, which sums to the R²).

Memory. The primal form takes targets in chunks of ``chunk_size``. The dual form searches every target in one
himalaya call that reads them ``chunk_size`` at a time from a memory-mapped file of the z-scored training
targets, so each candidate's kernel is decomposed once per inner split for all targets (per chunk, a whole
brain in 8 chunks decomposed every kernel 8 times); the refit on the whole training set is then done here,
one decomposition per chosen candidate, predicting ``chunk_size`` targets at a time without keeping the dual
weights of all of them. Memory then grows with the chunk, not with the number of voxels, except for the
page cache of the memory-mapped targets (8 bytes x training time points x targets, reclaimable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from syncact.encoding.features import zscore
from syncact.encoding.solvers import Scratch, _fit_predict, _Fold, dual_refit_predict, dual_search
from syncact.exceptions import ConfigError, ShapeError

SOLVERS = ("auto", "primal", "dual")
DEFAULT_ALPHAS = np.logspace(-1, 6, 8)
"""Regularisation grid (the features are z-scored per run)."""


@dataclass
class EncodingScores:
    """Held-out scores of an encoding model, one row per outer fold (held-out run).

    Attributes
    ----------
    bands : list of str
    runs : list of int
        Index of the held-out run of each fold.
    r, r2 : ndarray of shape (n_folds, n_targets)
        Correlation and R² of the prediction with the held-out run.
    r2_split : ndarray of shape (n_folds, n_bands, n_targets)
        R² split by band (sums to ``r2`` over bands).
    p_fold : ndarray of shape (n_folds, n_targets) or None
        Per fold, the circular-shift p-value of ``r``: the held-out prediction correlated with the held-out data
        shifted in time (by at least a tenth of the run). It keeps the autocorrelation of both series, so a slow,
        smooth target gets the wider null it needs (a null pooled over targets does not). Folds are not averaged
        before the test: each fold's prediction depends on the other folds' data, so the fold-mean r varies more
        than a fold-mean of shifted r (measured: 12.5 % false positives on white noise at 0.05).
    solver : str
        ``"ridge"`` / ``"kernel-ridge"`` (one band), ``"primal"`` or ``"dual"``.
    predictions : list of ndarray or None
        With ``keep_predictions``: per fold, the held-out run's prediction, (n_timepoints_run, n_targets).
    """

    bands: list[str]
    runs: list[int]
    r: np.ndarray
    r2: np.ndarray
    r2_split: np.ndarray
    solver: str
    p_fold: np.ndarray | None = None
    predictions: list[np.ndarray] | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def p_shift(self) -> np.ndarray:
        """Per target, the largest p-value over folds: significant only when every held-out run is predicted
        (an intersection-union test: valid whatever the dependence between folds, conservative)."""
        if self.p_fold is None:
            raise ValueError("these scores were computed without a shift null (n_shifts=0).")
        return self.p_fold.max(axis=0)

    def significant(self, alpha: float = 0.05) -> np.ndarray:
        """Targets whose held-out r passes its own circular-shift null at ``alpha`` in every fold (one-sided,
        uncorrected over targets)."""
        return self.p_shift <= alpha

    @property
    def mean_r(self) -> np.ndarray:
        """Mean over folds, (n_targets,)."""
        return self.r.mean(axis=0)

    @property
    def split(self) -> np.ndarray:
        """R² split by band, mean over folds: (n_bands, n_targets)."""
        return self.r2_split.mean(axis=0)

    def winner(self, min_r: float = 0.0) -> np.ndarray:
        """Index of the band that explains most of each target (-1 where the mean r is at most ``min_r``)."""
        best = self.split.argmax(axis=0)
        return np.where(self.mean_r > min_r, best, -1)


@dataclass
class EncodingResult:
    """An experiment's encoding models (:mod:`syncact.experiment.encoding` fills it).

    Attributes
    ----------
    voxels, fbns : dict of str to EncodingScores
        Per model (``model/weights``): held-out scores of every voxel, of every FBN.
    null : dict of str to EncodingScores
        Per model: the voxels' scores with mismatched movies (empty with runs of unequal length or one run).
    ceiling, fbn_ceiling : ndarray
        Noise ceiling of each voxel, of each FBN, for the test-subject mean (mean over runs).
    table, fbn_table : DataFrame
        ``tables/encoding.csv`` (per model and band) and ``tables/encoding_fbns.csv`` (per model and FBN).
    truth : DataFrame or None
        ``tables/encoding_truth.csv``: per model and planted network, the share of its voxels above the null and
        the share each band wins (simulated data).
    networks : DataFrame or None
        ``tables/encoding_networks.csv``: per model and Dosenbach 2010 network
        (:func:`~syncact.encoding.summary.network_table`; None off a volumetric grid).
    """

    voxels: dict[str, EncodingScores]
    fbns: dict[str, EncodingScores]
    null: dict[str, EncodingScores]
    ceiling: np.ndarray
    fbn_ceiling: np.ndarray
    table: pd.DataFrame
    fbn_table: pd.DataFrame
    truth: pd.DataFrame | None = None
    networks: pd.DataFrame | None = None


def shifted_correlations(prediction: np.ndarray, data: np.ndarray, n_shifts: int) -> np.ndarray:
    """Correlation of each prediction column with its data column circularly shifted by ``n_shifts`` lags spread
    over [T / 10, T - T / 10]: (n_shifts, n_targets), by FFT (every lag at once)."""
    n = prediction.shape[0]
    lags = np.unique(np.linspace(max(n // 10, 1), n - max(n // 10, 1), n_shifts).round().astype(int))
    zp, zy = zscore(prediction), zscore(data)
    cross = np.fft.irfft(np.fft.rfft(zy, axis=0) * np.conj(np.fft.rfft(zp, axis=0)), n=n, axis=0) / n
    return cross[lags]


PRIMAL_BELOW = 0.5
"""``solver="auto"`` takes the primal form below this many features per training sample. Measured by
benchmarks/bench_encoding.py (two bands, 900 samples, 4,096 targets): the primal banded ridge is cheaper at a
sixth and a third of the samples, the dual from two thirds up (at as many features as samples the dual already
costs 0.74x the primal), so the crossover lies between a third and two thirds."""


def choose_solver(n_features: int, n_samples: int, n_bands: int, solver: str = "auto") -> str:
    """``"primal"`` below :data:`PRIMAL_BELOW` features per training sample, else ``"dual"`` (kernel); with one band,
    ``"ridge"`` / ``"kernel-ridge"`` (no band weights to search)."""
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    form = solver if solver != "auto" else ("primal" if n_features < PRIMAL_BELOW * n_samples else "dual")
    if n_bands == 1:
        return "ridge" if form == "primal" else "kernel-ridge"
    return form


BACKENDS = ("auto", "numpy", "torch", "torch_cuda")


def resolve_backend(backend: str = "auto") -> str:
    """himalaya's backend for ``backend``: ``"auto"`` is ``"torch_cuda"`` when torch sees a GPU, else ``"numpy"``.

    On the CPU, torch gave the same float64 scores 1.5x faster than numpy on a quiet machine but with 1.8x the
    memory, and was slower than numpy when the cores were shared (its threads suffer from oversubscription, e.g.
    under ``pytest -n 2`` or beside another job; benchmarks/bench_encoding.py): ask for ``"torch"`` explicitly
    on a machine of your own."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if backend != "auto":
        if backend.startswith("torch"):
            try:
                import torch
            except ImportError as exc:
                raise ConfigError(f"backend {backend!r} needs torch; pip install torch, or use backend='numpy'.") from exc
            if backend == "torch_cuda" and not torch.cuda.is_available():
                raise ConfigError("backend 'torch_cuda' needs a CUDA GPU and torch sees none; use 'auto' or 'numpy'.")
        return backend
    try:
        import torch
    except ImportError:
        return "numpy"
    return "torch_cuda" if torch.cuda.is_available() else "numpy"


@contextmanager
def _himalaya_backend(name: str) -> Iterator[object]:
    """himalaya's global backend set to ``name`` for the block, the previous one restored after."""
    from himalaya.backend import get_backend, set_backend

    previous = get_backend().name
    try:
        yield set_backend(name, on_error="raise")
    finally:
        set_backend(previous, on_error="raise")


def _score(backend: object, scorer: Callable[..., object], *arrays: np.ndarray) -> np.ndarray:
    """A himalaya scorer on numpy arrays under ``backend``, as float64 numpy."""
    out = scorer(*(backend.asarray(a) for a in arrays))  # type: ignore[attr-defined]
    return np.asarray(backend.to_numpy(out), dtype=np.float64)  # type: ignore[attr-defined]


def fit_encoding(bands: Mapping[str, Sequence[np.ndarray]], targets: Sequence[np.ndarray], *,
                 alphas: np.ndarray | Sequence[float] = DEFAULT_ALPHAS, n_iter: int = 10, chunk_size: int = 4096,
                 solver: str = "auto", backend: str = "auto", n_shifts: int = 200, keep_predictions: bool | str | Path = False,
                 seed: int = 0, progress: bool = False, scratch_dir: str | None = None) -> EncodingScores:
    """Cross-validated encoding scores of every target (leave one run out).

    Parameters
    ----------
    bands : mapping of str to sequence of ndarray
        Feature bands (e.g. :func:`~syncact.encoding.features.band_features`), per band its features of
        each run, (n_timepoints_run, n_features_band); zero mean per run.
    targets : sequence of array-like
        Per run, (n_timepoints_run, n_targets): voxels or FBN activations (z-scored per run here). Read
        ``chunk_size`` targets at a time.
    alphas : array-like, default=DEFAULT_ALPHAS
    n_iter : int, default=10
        Band-weight candidates of the banded ridge's random search (several bands only).
    chunk_size : int, default=4096
    solver : {"auto", "primal", "dual"}, default="auto"
    backend : {"auto", "numpy", "torch", "torch_cuda"}, default="auto"
        himalaya's array backend for the fits (:func:`resolve_backend`; ``"auto"``: torch on a GPU, else numpy).
        The scores agree across backends to float precision (tested on the CPU).
    n_shifts : int, default=200
        Circular shifts of the held-out data for each target's own null (``EncodingScores.p_shift``; at most
        the distinct lags a run has); 0: none.
    keep_predictions : bool or path, default=False
        Keep each fold's held-out prediction (``EncodingScores.predictions``), whose scores against other averages
        of the subjects are then cheap (:func:`~syncact.encoding.ceiling.jackknife_ceiled`): True, in memory (a few
        targets: FBNs); a folder, as memory-mapped ``prediction_run-<i>.npy`` files there (every voxel).
    seed : int, default=0
    progress : bool, default=False
    scratch_dir : str, optional
        Where the dual form writes the z-scored targets of a fold as memory-mapped files when there are more than
        ``chunk_size`` targets (8 bytes x time points x targets; the system's temporary folder by default);
        removed at the end.

    Returns
    -------
    EncodingScores
    """
    from himalaya.scoring import correlation_score, r2_score, r2_score_split

    names = list(bands)
    n_runs = len(targets)
    if n_runs < 2:
        raise ConfigError(f"cross-validation over runs needs at least 2 runs, got {n_runs}.")
    lengths = [int(np.shape(t)[0]) for t in targets]
    n_targets = int(np.shape(targets[0])[1])
    for name in names:
        if len(bands[name]) != n_runs:
            raise ShapeError(f"band {name!r} has {len(bands[name])} runs, the targets {n_runs}.")
        for i, x in enumerate(bands[name]):
            if np.shape(x)[0] != lengths[i]:
                raise ShapeError(f"band {name!r}, run {i}: {np.shape(x)[0]} time points, the targets {lengths[i]}; "
                                 "features and targets must be synchronised per run.")
    if any(int(np.shape(t)[1]) != n_targets for t in targets):
        raise ShapeError("every run must have the same targets (columns).")
    alphas = np.asarray(alphas, dtype=np.float64)
    n_features = sum(int(np.shape(bands[n][0])[1]) for n in names)
    r = np.zeros((n_runs, n_targets))
    r2 = np.zeros((n_runs, n_targets))
    split = np.zeros((n_runs, len(names), n_targets))
    p_fold = np.ones((n_runs, n_targets)) if n_shifts else None
    if isinstance(keep_predictions, (str, Path)):
        Path(keep_predictions).mkdir(parents=True, exist_ok=True)
        predictions = [np.lib.format.open_memmap(Path(keep_predictions) / f"prediction_run-{i}.npy", mode="w+",
                                                 dtype=np.float64, shape=(n, n_targets)) for i, n in enumerate(lengths)]
    else:
        predictions = [np.zeros((n, n_targets)) for n in lengths] if keep_predictions else None
    chosen = None
    folds = tqdm(range(n_runs), desc="encoding folds", disable=not progress)
    backend = resolve_backend(backend)

    def score(held: int, cols: slice | np.ndarray, y_test: np.ndarray, prediction: np.ndarray,
              per_band: np.ndarray) -> None:
        if predictions is not None:
            predictions[held][:, cols] = prediction
        r[held, cols] = _score(backend_module, correlation_score, y_test, prediction)
        if n_shifts:
            null = shifted_correlations(prediction, y_test, n_shifts)
            p_fold[held, cols] = (1 + (null >= r[held, cols]).sum(axis=0)) / (1 + null.shape[0])
        r2[held, cols] = _score(backend_module, r2_score, y_test, prediction)
        split[held][:, cols] = (_score(backend_module, r2_score_split, y_test, per_band) if len(names) > 1
                                else r2[held, cols][None])

    with _himalaya_backend(backend) as backend_module, Scratch(scratch_dir) as scratch:
        for held in folds:
            kept = [i for i in range(n_runs) if i != held]
            train = [np.concatenate([np.asarray(bands[n][i], dtype=np.float64) for i in kept]) for n in names]
            test = [np.asarray(bands[n][held], dtype=np.float64) for n in names]
            chosen = choose_solver(n_features, train[0].shape[0], len(names), solver)
            fold = _Fold.prepare(chosen, train, test, [lengths[i] for i in kept])
            if chosen in ("ridge", "primal"):
                for start in range(0, n_targets, chunk_size):
                    cols = slice(start, min(start + chunk_size, n_targets))
                    y = np.concatenate([zscore(targets[i][:, cols]) for i in kept])
                    y_test = zscore(targets[held][:, cols])
                    score(held, cols, y_test, *_fit_predict(fold, y, alphas, n_iter, seed, backend_module))
                continue
            in_memory = n_targets <= chunk_size
            y = scratch.zscored([targets[i] for i in kept], "train", chunk_size, in_memory)
            y_test = scratch.zscored([targets[held]], "test", chunk_size, in_memory)
            search = dual_search(np.stack(fold.train), y, fold.lengths, alphas, n_iter, seed, chunk_size,
                                 backend_module)
            for cols, prediction, per_band in dual_refit_predict(fold, y, search, chunk_size, backend_module):
                score(held, cols, np.asarray(y_test[:, cols]), prediction, per_band)
            del y, y_test
    return EncodingScores(names, list(range(n_runs)), r, r2, split, str(chosen), p_fold, predictions,
                          {"alphas": alphas.tolist(), "n_iter": n_iter, "chunk_size": chunk_size,
                           "backend": backend})
