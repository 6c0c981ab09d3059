"""The fits behind :func:`~syncact.encoding.model.fit_encoding`: the primal form per chunk of targets, the dual
form as one himalaya random search over every target plus a refit here, and the scratch files the dual form reads
its targets from.

Why the dual form is split (see :mod:`~syncact.encoding.model` for the model): himalaya's random search decomposes
each candidate's kernel once per inner split *per call*; calling it per chunk of voxels repeated every decomposition
per chunk (8 chunks at 4 mm). One call over every target, reading them ``batch`` columns at a time from a
memory-mapped file, decomposes once; its own refit would keep the dual weights of every target (8 bytes x training
time points x targets), so the refit and the held-out prediction are done here per chosen candidate and batch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syncact.encoding.features import zscore


def _inner_cv(lengths: Sequence[int]):  # noqa: ANN202 - a scikit-learn splitter
    from sklearn.model_selection import KFold, PredefinedSplit

    if len(lengths) >= 2:
        return PredefinedSplit(np.repeat(np.arange(len(lengths)), lengths))
    return KFold(5, shuffle=False)


@dataclass
class _Fold:
    """One outer fold's features, prepared once for every chunk of targets: the kernels in dual form."""

    solver: str
    train: list[np.ndarray]
    test: list[np.ndarray]
    lengths: list[int]

    @classmethod
    def prepare(cls, solver: str, train: list[np.ndarray], test: list[np.ndarray], lengths: list[int]) -> _Fold:
        if solver in ("kernel-ridge", "dual"):  # linear kernels of each band: (n_train, n_train), (n_test, n_train)
            return cls(solver, [x @ x.T for x in train], [t @ x.T for t, x in zip(test, train, strict=True)], lengths)
        return cls(solver, train, test, lengths)


def _fit_predict(fold: _Fold, y: np.ndarray, alphas: np.ndarray, n_iter: int, seed: int,
                 backend: object) -> tuple[np.ndarray, np.ndarray]:
    """Primal form: fit the fold's training bands to ``y``; predict its test bands: (prediction, per-band predictions)."""
    cv = _inner_cv(fold.lengths)
    to_numpy = backend.to_numpy  # type: ignore[attr-defined]
    if fold.solver == "ridge":
        from himalaya.ridge import RidgeCV

        model = RidgeCV(alphas=alphas, cv=cv).fit(fold.train[0], y)
        prediction = np.asarray(to_numpy(model.predict(fold.test[0])))
        return prediction, prediction[None]
    from himalaya.ridge import GroupRidgeCV

    model = GroupRidgeCV(groups="input", solver_params={"alphas": alphas, "progress_bar": False, "n_iter": n_iter},
                         cv=cv, random_state=seed)
    model.fit(fold.train, y)
    return np.asarray(to_numpy(model.predict(fold.test))), np.asarray(to_numpy(model.predict(fold.test, split=True)))


def band_weight_candidates(n_bands: int, n_iter: int, seed: int) -> np.ndarray:
    """The banded ridge's candidate band weights, (n_iter, n_bands), rows on the simplex: himalaya's Dirichlet
    samples (concentrations 0.1 and 1, alternating) with equal weights first, as ``MultipleKernelRidgeCV`` draws
    them for ``random_state=seed``; one band: weight 1."""
    if n_bands == 1:
        return np.ones((1, 1))
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import generate_dirichlet_samples

    samples = generate_dirichlet_samples(n_samples=n_iter, n_kernels=n_bands, concentration=[0.1, 1.0],
                                         random_state=seed)
    gammas = np.array(get_backend().to_numpy(samples), dtype=np.float64)
    gammas[0] = 1 / n_bands
    return gammas


@dataclass
class DualSearch:
    """The inner cross-validation's choice for every target of one outer fold (dual form).

    Attributes
    ----------
    gammas : ndarray of shape (n_candidates, n_bands)
        Candidate band weights (:func:`band_weight_candidates`).
    choice : ndarray of shape (n_targets,)
        Index of each target's best candidate.
    alphas : ndarray of shape (n_targets,)
        Each target's best regularisation.
    """

    gammas: np.ndarray
    choice: np.ndarray
    alphas: np.ndarray


def dual_search(kernels: np.ndarray, y: np.ndarray, lengths: Sequence[int], alphas: np.ndarray, n_iter: int,
                seed: int, batch: int, backend: object) -> DualSearch:
    """himalaya's random search over band weights and regularisations, every target in one call.

    Parameters
    ----------
    kernels : ndarray of shape (n_bands, n_train, n_train)
        Linear kernels of the bands on the training runs.
    y : ndarray of shape (n_train, n_targets)
        z-scored training targets; a memory-mapped array is read ``batch`` columns at a time.
    lengths : sequence of int
        Time points of each training run (the inner folds).
    alphas : ndarray of shape (n_alphas,)
    n_iter, seed : int
    batch : int
        Targets scored at a time (himalaya's ``n_targets_batch``).
    backend : module
        himalaya's backend.

    Returns
    -------
    DualSearch
    """
    from himalaya.kernel_ridge import solve_multiple_kernel_ridge_random_search

    gammas = band_weight_candidates(len(kernels), n_iter, seed)
    deltas, _, _, best_alphas = solve_multiple_kernel_ridge_random_search(
        backend.asarray(kernels), y, n_iter=backend.asarray(gammas), alphas=backend.asarray(alphas),  # type: ignore[attr-defined]
        cv=_inner_cv(lengths), return_weights=None, return_alphas=True, n_targets_batch=batch, progress_bar=False,
        random_state=seed)
    best_alphas = np.asarray(backend.to_numpy(best_alphas), dtype=np.float64)  # type: ignore[attr-defined]
    weights = np.exp(np.asarray(backend.to_numpy(deltas), dtype=np.float64)) * best_alphas  # (n_bands, n_targets)
    choice = np.abs(weights.T[:, None, :] - gammas[None]).sum(axis=2).argmin(axis=1)
    return DualSearch(gammas, choice, best_alphas)


def dual_refit_predict(fold: _Fold, y: np.ndarray, search: DualSearch, batch: int,
                       backend: object) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Refit every target on the whole training set at its chosen band weights and regularisation; predict the test
    run: yields (target indices, prediction (n_test, b), per-band predictions (n_bands, n_test, b)).

    One eigendecomposition of each chosen candidate's kernel K = sum_k gamma_k K_k, then per batch of its targets
    w = U diag(1 / (lambda + alpha)) U^T y and the band k's prediction gamma_k K_test,k w (himalaya's refit and
    ``predict(split=True)``, negative eigenvalues set to zero as there).
    """
    b = backend
    test = [b.asarray(t) for t in fold.test]  # type: ignore[attr-defined]
    for c in np.unique(search.choice):
        gamma = search.gammas[c]
        kernel = b.asarray(np.tensordot(gamma, np.asarray(fold.train), axes=1))  # type: ignore[attr-defined]
        eigenvalues, vectors = b.eigh(kernel)  # type: ignore[attr-defined]
        eigenvalues[eigenvalues < 0] = 0
        del kernel
        members = np.flatnonzero(search.choice == c)
        for start in range(0, members.size, batch):
            cols = members[start:start + batch]
            alpha = b.asarray(search.alphas[cols])  # type: ignore[attr-defined]
            projected = b.matmul(vectors.T, b.asarray(np.asarray(y[:, cols], dtype=np.float64)))  # type: ignore[attr-defined]
            weights = b.matmul(vectors, projected / (eigenvalues[:, None] + alpha[None]))  # type: ignore[attr-defined]
            per_band = np.stack([np.asarray(b.to_numpy(b.matmul(t, weights))) * g  # type: ignore[attr-defined]
                                 for t, g in zip(test, gamma, strict=True)])
            yield cols, per_band.sum(axis=0), per_band


class Scratch:
    """A temporary folder for a fit's memory-mapped, z-scored targets (removed on exit)."""

    def __init__(self, parent: str | None) -> None:
        self.parent = parent
        self.folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.folder.cleanup()

    def zscored(self, runs: Sequence[np.ndarray], name: str, chunk: int, in_memory: bool) -> np.ndarray:
        """The runs z-scored per column and stacked in time, (sum of time points, n_targets) float64: in memory, or
        written ``chunk`` columns at a time to a memory-mapped file."""
        if in_memory:
            return np.concatenate([zscore(np.asarray(t)) for t in runs])
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="syncact-encoding-", dir=self.parent)
        n_targets = int(np.shape(runs[0])[1])
        shape = (sum(int(np.shape(t)[0]) for t in runs), n_targets)
        out = np.lib.format.open_memmap(Path(self.folder.name) / f"{name}.npy", mode="w+", dtype=np.float64,
                                        shape=shape)
        for start in range(0, n_targets, chunk):
            cols = slice(start, min(start + chunk, n_targets))
            out[:, cols] = np.concatenate([zscore(np.asarray(t[:, cols])) for t in runs])
        out.flush()
        return out
