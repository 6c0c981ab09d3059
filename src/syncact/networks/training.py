"""What training the embedding needs besides the model: the subject split, the runs as batches, the loss
history, and the process group of data-parallel training (PyTorch DDP under torchrun)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from syncact._validation import check_choice, check_fractions
from syncact.exceptions import ConfigError
from syncact.networks.subspace import check_equal_lengths, fingerprint, project_runs, run_shapes


def split_subjects(
    subjects: Sequence[str], fractions: Sequence[float] = (0.6, 0.1, 0.3), *, seed: int = 0
) -> dict[str, list[str]]:
    """Split subjects into train / validation / test groups (60/10/30 in the paper).

    Each group with a non-zero fraction gets at least one subject; the rest follow the fractions.

    Parameters
    ----------
    subjects : sequence of str
        Subject labels (at least 3 when every fraction is non-zero).
    fractions : (train, validation, test), default=(0.6, 0.1, 0.3)
    seed : int, default=0

    Returns
    -------
    dict with keys "train", "validation", "test", each a sorted list of labels
    """
    fractions = check_fractions("split", fractions, 3)
    subjects = sorted(set(subjects))
    needed = sum(f > 0 for f in fractions)
    if len(subjects) < needed:
        raise ConfigError(f"split {fractions} needs at least {needed} subjects, got {len(subjects)}: {subjects}.")
    n = len(subjects)
    counts = [max(1, round(f * n)) if f > 0 else 0 for f in fractions]
    while sum(counts) > n:  # take from the largest group
        counts[int(np.argmax(counts))] -= 1
    counts[0] += n - sum(counts)
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [subjects[i] for i in order]
    groups, start = {}, 0
    for name, count in zip(("train", "validation", "test"), counts, strict=False):
        groups[name] = sorted(shuffled[start : start + count])
        start += count
    return groups


@dataclass(frozen=True)
class TrainingHistory:
    """Loss per epoch.

    Attributes
    ----------
    train_loss, validation_loss : ndarray of shape (n_epochs_run,)
        Mean reconstruction MSE per epoch (validation is NaN without validation data).
    learning_rate : ndarray of shape (n_epochs_run,)
        Learning rate used in each epoch.
    seconds : ndarray of shape (n_epochs_run,)
        Wall time of each epoch (training and validation pass).
    best_epoch : int
        Epoch (0-based) whose weights were kept: lowest validation loss, else the last.
    stopped_early : bool
        Training stopped before ``n_epochs`` because the validation loss stopped improving.
    """

    train_loss: np.ndarray
    validation_loss: np.ndarray
    learning_rate: np.ndarray
    seconds: np.ndarray
    best_epoch: int
    stopped_early: bool = False

    def to_frame(self):  # noqa: ANN201 - pandas
        import pandas as pd

        n = len(self.train_loss)
        return pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss": self.train_loss,
                             "validation_loss": self.validation_loss, "learning_rate": self.learning_rate, "seconds": self.seconds,
                             "best": np.arange(n) == self.best_epoch})


class TrainingRuns:
    """Training data for the loop.

    With a subspace basis: the projected runs, stacked in memory, and the energy outside the span.
    Without one (voxel formulation): the runs themselves, never stacked or copied -- arrays in memory are
    wrapped as they are, lazy runs (a store) are read when their batch comes -- and the loss is computed
    in its expanded form (:meth:`AutoEncoder.expanded_sse`), which needs no (time x voxel) temporary.
    """

    def __init__(self, runs: Sequence[np.ndarray], basis: torch.Tensor | None) -> None:
        self.expanded = basis is None
        if self.expanded:
            shapes = run_shapes(runs)
            self.shape = (len(runs), check_equal_lengths([s[0] for s in shapes]), shapes[0][1])
            self.lazy = not isinstance(runs, list | tuple)
            self.source = runs if self.lazy else [torch.from_numpy(np.asarray(x, dtype=np.float32)) for x in runs]
            self.residual = torch.zeros(len(runs))
        else:
            self.lazy = False
            self.data, residual = project_runs(runs, basis)
            self.residual = residual.float()
            self.shape = tuple(self.data.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked projected runs (batch, T, r) and their summed residual energy (subspace mode)."""
        return self.data[idx], self.residual[idx].sum()

    def runs(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The runs of a batch, each (T, V), without copies of in-memory data (voxel mode)."""
        if self.lazy:
            return [torch.from_numpy(np.asarray(self.source[int(i)], dtype=np.float32)) for i in idx]
        return [self.source[int(i)] for i in idx]

    def fingerprint(self) -> str:
        if not self.expanded:
            return fingerprint(self.data, self.residual)
        stats = [torch.tensor([float(x.double().sum()), float(x.double().square().sum())])
                 for x in (self.runs(torch.tensor([i]))[0] for i in range(len(self)))]
        return fingerprint(torch.stack(stats), torch.tensor(self.shape))


def sum_over_processes(value: float, world: int, device: torch.device) -> float:
    """``value`` added over the processes of the DDP group (itself with one process), in float64."""
    if world == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(total)
    return float(total[0])


def init_distributed(backend: str | None = None) -> tuple[int, int, str]:
    """Join the process group that ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...).

    Parameters
    ----------
    backend : {"nccl", "gloo"}, optional
        NCCL when CUDA is available (each process then uses GPU ``LOCAL_RANK``), else gloo (CPUs).

    Returns
    -------
    rank, world_size : int
    device : str
        ``"cuda:<LOCAL_RANK>"`` or ``"cpu"``: pass it to :class:`FBNEmbedding` with ``distributed=True``.
    """
    import os

    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ConfigError(f"the environment lacks {missing}: start the processes with torchrun "
                          "(e.g. torchrun --nproc-per-node 4 -m syncact.cli embed ...).")
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    check_choice("backend", backend, ("nccl", "gloo"))
    if backend == "nccl" and not cuda:
        raise ConfigError("backend='nccl' needs CUDA GPUs; use backend='gloo' on CPUs.")
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if backend == "nccl" else "cpu"
    if device != "cpu":
        torch.cuda.set_device(device)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), device
