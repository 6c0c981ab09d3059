"""The Sync-ACT fMRI embedding: functional brain networks from an unsupervised encoder-decoder.

For a run ``X`` (time x voxel, each voxel z-scored) the encoder computes ``Z = X W`` with one
``W`` (voxel x K) shared by all subjects, whose columns are the FBN spatial maps, then a temporal
module ``g`` gives the FBN temporal activations ``A = g(Z)`` (time x K). The decoder mirrors it (a
second temporal module, then K -> voxel). Training minimises the MSE between ``X`` and its
reconstruction (Adam, lr 0.01, batch 16, 100 epochs in the paper).

``sparsity`` (default 0, the paper) adds ``sparsity * mean|W|`` to the loss. The reconstruction loss
alone is unchanged when ``W`` is mixed by any invertible matrix that the decoder undoes, so the paper's
maps are only determined up to such a mixing; an L1 term picks sparse, localised maps out of that set.

``n_components`` (default 256) trains in the span of the top principal directions of the training
runs: ``W = B Omega`` with ``B`` (voxel x r) orthonormal. Directions of ``W`` outside the span of the
training data do not change ``X W`` on the training data, so for ``r`` equal to the data rank this is
the same optimisation problem; a smaller ``r`` drops the lowest-variance directions, as group ICA's PCA
step does. The reconstruction loss is still reported over all voxels (the energy outside the span is
added as a constant). Each step then costs O(T r) instead of O(T V), which is what makes hundreds of
epochs affordable on a CPU. ``n_components=None`` trains on the voxels directly.

Runs may be arrays in memory or a lazy view of a prepared store (:meth:`PreparedStore.runset`): the
principal subspace is then computed in passes over the store (:mod:`syncact.networks.subspace`) and only
the projected runs (time x r per run) are held, so memory does not grow with the number of voxels;
with ``n_components=None`` every batch is read from the store.

Training keeps the epoch with the lowest validation loss, can stop early (``patience``) and follow a
learning-rate schedule, and writes a checkpoint after every epoch (``checkpoint_dir``) from which
``resume=True`` continues to the same final weights as an uninterrupted run: the checkpoint holds the
weights, Adam's moments, the schedule, the state of the shuffling generator, the history and the best
weights, and is refused when it was written under other parameters or on other data.
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from syncact import _io
from syncact._validation import check_choice, check_file, check_positive
from syncact.exceptions import ConfigError, CorruptFileError, ShapeError
from syncact.networks.autoencoder import AutoEncoder
from syncact.networks.base import BrainNetworks, positive_peaks
from syncact.networks.identify import IDENTIFY_METHODS, Identification, independent_maps, reparametrise
from syncact.networks.subspace import check_rank, fingerprint, principal_subspace, run_shapes
from syncact.networks.training import TrainingHistory, TrainingRuns, sum_over_processes

logger = logging.getLogger(__name__)

TEMPORAL_MODULES = ("none", "lstm", "msa")
LR_SCHEDULES = ("constant", "cosine", "plateau")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_FORMAT = 1
# Parameters that change the trained weights (a checkpoint written under others cannot be continued).
_FINGERPRINT_PARAMS = ("n_networks", "temporal", "n_heads", "n_epochs", "learning_rate", "batch_size", "sparsity",
                       "n_components", "init", "lr_schedule", "patience", "precision", "seed")


class FBNEmbedding(BrainNetworks):
    """Learn K functional brain networks shared by all subjects (Sync-ACT fMRI embedding).

    Parameters
    ----------
    n_networks : int, default=64
        Number K of FBNs (the paper uses 64; its sweep 64/128/256/512).
    temporal : {"msa", "lstm", "none"}, default="msa"
        Temporal module: multi-head self-attention (LT+MSA), two LSTM layers (LT+LSTM), or none (LT).
    n_heads : int, default=4
        Attention heads (must divide ``n_networks``).
    n_epochs : int, default=100
    learning_rate : float, default=0.01
    batch_size : int, default=16
        Runs (or segments) per optimisation step.
    sparsity : float, default=0.0
        Weight of an L1 penalty on the maps (0 reproduces the paper); see the module docstring.
    n_components : int or None, default=256
        Train in the span of the top ``n_components`` principal directions of the training runs (maps
        are ``basis @ encoder``); see the module docstring. None trains on all voxels directly, reading
        lazy runs (a prepared store) batch by batch.
    init : {"random", "pca"}, default="random"
        Start the encoder at the K leading principal directions of the training runs (and the decoder at
        their transpose), or at PyTorch's random initialisation. Needs ``n_components``.
    lr_schedule : {"constant", "cosine", "plateau"}, default="constant"
        Constant (the paper), cosine annealing to 0 over ``n_epochs``, or halving when the validation
        loss (else the training loss) has not improved for 5 epochs.
    patience : int or None, default=None
        Stop when the validation loss has not improved for this many epochs (needs validation runs).
    precision : {"float32", "bfloat16", "float16", "auto"}, default="auto"
        Autocast precision of the forward pass; "auto" is float16 with loss scaling on CUDA and float32
        on the CPU. Losses and optimiser state stay float32.
    checkpoint_dir : str or Path, optional
        Write ``checkpoint.pt`` there after every epoch (atomically): weights, optimiser, schedule,
        shuffling state, history and best weights.
    resume : bool, default=False
        Continue from ``checkpoint_dir/checkpoint.pt`` when it exists; the final weights are identical to
        an uninterrupted run. A checkpoint of another configuration or other data is an error.
    seed : int, default=0
    device : str, default="cpu"
    distributed : bool, default=False
        Train data-parallel with PyTorch DDP over the processes of an initialised ``torch.distributed``
        process group (``torchrun``; see :func:`init_distributed`). Every process builds the same model and
        data order from ``seed`` and takes its share of each batch (rank ``r`` takes runs ``r``,
        ``r + world_size``, ...); DDP averages the gradients before each Adam step, so the weights equal a
        one-process fit up to the order of floating-point sums. Lazy runs (a store) are read only by the
        process that trains on them; the principal subspace is computed by every process. Rank 0 writes
        the checkpoints; every process ends with the fitted model.
    identify : {"ica", "none"}, default="ica"
        After training, choose the spatially independent maps inside the span the trained encoder fixes
        (:func:`syncact.networks.identify.independent_maps`) and rewrite the network so it reconstructs every
        run exactly as before with them (:func:`~syncact.networks.identify.reparametrise`); maps are then
        ordered by the variance of the training data along each map. ``"none"`` keeps the raw trained
        weights (the paper's procedure), whose maps are an arbitrary mixture of networks.
    progress : bool, default=False
        A progress bar over epochs with the losses.

    Attributes
    ----------
    maps_ : ndarray of shape (n_networks, n_voxels)
        FBN spatial maps (rows of the encoder weight), each signed so its peak is positive.
    history_ : TrainingHistory
    basis_ : Tensor of shape (n_voxels, n_components) or None
    identification_ : Identification or None
        The mixing that turned the trained maps into the identified ones (None with ``identify="none"``).

    Notes
    -----
    The FBN activations are ``A = g(X W)`` for LT and LT+MSA. For LT+LSTM they are the identified maps'
    own time courses ``X W``: the LSTM's hidden units are nonlinear recodings that no reparametrisation
    ties to individual maps (``docs/method.md``); with ``identify="none"`` they are the LSTM's output.
    """

    method = "sync-act"

    def __init__(
        self,
        n_networks: int = 64,
        *,
        temporal: str = "msa",
        n_heads: int = 4,
        n_epochs: int = 100,
        learning_rate: float = 0.01,
        batch_size: int = 16,
        sparsity: float = 0.0,
        n_components: int | None = 256,
        init: str = "random",
        lr_schedule: str = "constant",
        patience: int | None = None,
        precision: str = "auto",
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        seed: int = 0,
        device: str = "cpu",
        distributed: bool = False,
        identify: str = "ica",
        progress: bool = False,
    ) -> None:
        self.n_networks = n_networks
        self.temporal = temporal
        self.n_heads = n_heads
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.sparsity = sparsity
        self.n_components = n_components
        self.init = init
        self.lr_schedule = lr_schedule
        self.patience = patience
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.seed = seed
        self.device = device
        self.distributed = distributed
        self.identify = identify
        self.progress = progress

    def _check_params(self) -> None:
        check_positive("n_networks", self.n_networks, integer=True)
        check_choice("temporal", self.temporal, TEMPORAL_MODULES)
        check_positive("n_epochs", self.n_epochs, integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("sparsity", self.sparsity, allow_zero=True)
        check_choice("init", self.init, ("pca", "random"))
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("identify", self.identify, IDENTIFY_METHODS)
        if self.patience is not None:
            check_positive("patience", self.patience, integer=True)
        if self.n_components is not None:
            check_positive("n_components", self.n_components, integer=True)
        if self.temporal == "msa" and self.n_networks % self.n_heads:
            raise ConfigError(f"n_networks={self.n_networks} must be a multiple of n_heads={self.n_heads} for temporal='msa'.")
        if self.init == "pca" and self.n_components is None:
            raise ConfigError("init='pca' needs n_components (the principal directions it starts from).")
        if self.resume and self.checkpoint_dir is None:
            raise ConfigError("resume=True needs checkpoint_dir (where the checkpoint is).")
        if self.distributed and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            raise ConfigError("distributed=True needs an initialised torch.distributed process group: start the "
                              "processes with torchrun and call syncact.networks.init_distributed() (or "
                              "torch.distributed.init_process_group) before fit.")

    def _autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        choice = self.precision
        if choice == "auto":
            choice = "float16" if device.type == "cuda" else "float32"
        if choice == "float16" and device.type != "cuda":
            raise ConfigError("precision='float16' needs a CUDA device; use 'bfloat16' or 'float32' on the CPU.")
        return {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[choice]

    def fit(self, runs: Sequence[np.ndarray], validation: Sequence[np.ndarray] | None = None, *,
            groups: Sequence[str] | None = None, basis: torch.Tensor | np.ndarray | None = None) -> FBNEmbedding:
        """Train on runs of the training subjects.

        Parameters
        ----------
        runs : sequence of ndarray of shape (n_timepoints, n_voxels)
            Voxel-wise z-scored runs (all the same length), in memory or a lazy store view
            (:meth:`syncact.brain.PreparedStore.runset`) read one run at a time.
        validation : sequence of ndarray of shape (n_timepoints, n_voxels), optional
            Runs of the validation subjects; the epoch with the lowest validation loss is kept.
        groups : ignored
            Accepted for the common interface of :class:`BrainNetworks`.
        basis : Tensor or ndarray of shape (n_voxels, r), optional
            The principal subspace of ``runs``, computed already by
            :func:`syncact.networks.subspace.principal_subspace` with this ``n_components`` and ``seed`` (the
            fits of a K sweep share one); by default it is computed here.

        Returns
        -------
        self
        """
        self._check_params()
        shapes = run_shapes(runs, "runs")
        n_voxels = shapes[0][1]
        check_rank(self.n_components, self.n_networks, shapes)
        if validation is not None and len(validation) and run_shapes(validation, "validation")[0][1] != n_voxels:
            raise ShapeError(f"validation runs have {run_shapes(validation)[0][1]} voxels but training runs have {n_voxels}.")
        if self.patience is not None and not validation:
            raise ConfigError("patience (early stopping) needs validation runs.")
        device = torch.device(self.device)
        autocast = self._autocast_dtype(device)
        if basis is not None:
            basis = self._check_basis(basis, shapes)
        elif self.n_components is not None:  # under DDP each process reads its share of the runs (blocks all-reduced)
            shard = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if self.distributed else None
            basis = principal_subspace(runs, self.n_components, seed=self.seed, progress=self.progress, shard=shard)
        train = TrainingRuns(runs, basis)
        val = TrainingRuns(validation, basis) if validation else None
        n, n_timepoints, width = train.shape
        scale = float(n_timepoints * n_voxels)  # losses are reported as the MSE over all voxels

        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = AutoEncoder(width, self.n_networks, self.temporal, self.n_heads)
            if self.init == "pca":  # the basis is sorted by variance: start from its K leading directions
                with torch.no_grad():
                    eye = torch.eye(self.n_networks, width)
                    model.encoder.weight.copy_(eye)
                    model.decoder.weight.copy_(eye.T)
        model = model.to(device)
        rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if self.distributed else (0, 1)
        step_model = model
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        basis_d = basis.to(device) if basis is not None else None
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        scheduler = self._scheduler(optimizer)
        scaler = torch.amp.GradScaler("cuda", enabled=autocast == torch.float16)
        state = {"epoch": 0, "train_loss": [], "val_loss": [], "lr": [], "seconds": [], "best_state": None, "best_val": math.inf,
                 "bad_epochs": 0, "stopped": False}
        checkpoint = Path(self.checkpoint_dir) / CHECKPOINT_NAME if self.checkpoint_dir is not None else None
        identity = None
        if checkpoint is not None:
            identity = {"format": _CHECKPOINT_FORMAT, "params": self._fingerprint_params(),
                        "data": fingerprint(basis, torch.tensor([n, n_timepoints, n_voxels])) + train.fingerprint()
                        + (val.fingerprint() if val is not None else "")}
            if self.resume and checkpoint.is_file():  # every process continues from the same file
                state = self._restore(checkpoint, identity, model, optimizer, scheduler, scaler, generator)
            elif self.resume:
                logger.info("no checkpoint at %s: training from the start.", checkpoint)

        bar = tqdm(total=self.n_epochs, initial=state["epoch"], desc=f"FBN embedding ({self.temporal}, K={self.n_networks})",
                   unit="epoch", disable=_io.bar_disabled(self.progress and rank == 0), leave=False)
        while state["epoch"] < self.n_epochs and not state["stopped"]:
            tic = time.perf_counter()
            state["lr"].append(optimizer.param_groups[0]["lr"])
            order = torch.randperm(n, generator=generator)
            total = self._train_epoch(step_model, train, order, optimizer, scaler, scale, basis_d, device, autocast,
                                      rank, world)
            state["train_loss"].append(total / (scale * n))
            current = self._loss(model, val, scale, device, autocast, rank, world) if val is not None else math.nan
            state["val_loss"].append(current)
            if val is not None and current < state["best_val"]:
                state["best_val"], state["bad_epochs"] = current, 0
                state["best_state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            elif val is not None:
                state["bad_epochs"] += 1
            if scheduler is not None:
                scheduler.step(*([state["train_loss"][-1] if val is None else current]
                                 if self.lr_schedule == "plateau" else []))
            state["epoch"] += 1
            state["seconds"].append(time.perf_counter() - tic)
            state["stopped"] = self.patience is not None and state["bad_epochs"] >= self.patience
            if checkpoint is not None and rank == 0:
                self._save(checkpoint, identity, state, model, optimizer, scheduler, scaler, generator)
            bar.update()
            bar.set_postfix(train=f"{state['train_loss'][-1]:.4f}", val=f"{current:.4f}")
        bar.close()
        if state["stopped"]:
            logger.info("early stopping after epoch %d (no validation improvement for %d epochs).", state["epoch"],
                        self.patience)
        val_loss = np.array(state["val_loss"])
        best_epoch = int(np.nanargmin(val_loss)) if val is not None else len(val_loss) - 1
        if state["best_state"] is not None:
            model.load_state_dict(state["best_state"])
        model.eval()
        self._model = model.cpu()
        self.basis_ = basis
        self.n_voxels_ = n_voxels
        self.identification_ = None
        self._set_maps()
        if self.identify == "ica":
            self._identify(train)
        self.history_ = TrainingHistory(np.array(state["train_loss"]), val_loss, np.array(state["lr"]),
                                        np.array(state["seconds"]), best_epoch,
                                        bool(state["stopped"]))
        return self

    def _set_maps(self, signs: np.ndarray | None = None) -> None:
        """``maps_`` from the encoder (and basis), times ``signs_``: the given ``signs``, else those that make raw
        maps' peaks positive; identified maps are signed already (all ones)."""
        weights = self._model.encoder.weight.detach().cpu().double()  # (K, r)
        if self.basis_ is not None:
            weights = weights @ self.basis_.double().T  # (K, V)
        weights = weights.numpy()
        if signs is None:
            signs = positive_peaks(weights) if self.identification_ is None else np.ones(len(weights))
        self.signs_ = signs
        self.maps_ = weights * self.signs_[:, None]

    def identify_networks(self, runs: Sequence[np.ndarray]) -> FBNEmbedding:
        """Identify the maps of a fitted embedding trained with ``identify="none"`` (e.g. a model file saved
        before identification existed), in place; ``runs`` are its training runs, which set the order.

        Parameters
        ----------
        runs : sequence of ndarray of shape (n_timepoints, n_voxels)
            Voxel-wise z-scored runs (arrays or a lazy store view), the same voxels as ``maps_``.

        Returns
        -------
        self
        """
        if not hasattr(self, "maps_"):
            raise ConfigError("this FBNEmbedding is not fitted yet; call fit() first.")
        if self.identification_ is not None:
            raise ConfigError("this FBNEmbedding is identified already.")
        shapes = run_shapes(runs, "runs")
        if shapes[0][1] != self.n_voxels_:
            raise ShapeError(f"runs have {shapes[0][1]} voxels but the embedding was trained on {self.n_voxels_}.")
        self._identify(TrainingRuns(runs, self.basis_))
        self.identify = "ica"
        return self

    def _identify(self, train: TrainingRuns) -> None:
        """Spatially independent maps, ordered by the variance of the training runs along each, absorbed
        exactly into the network (see :mod:`syncact.networks.identify`)."""
        tic = time.perf_counter()
        raw = self.maps_ * self.signs_[:, None]  # the encoder's own rows
        found = independent_maps(raw, seed=self.seed)
        weight = self._model.encoder.weight.detach().double()  # (K, width)
        variance = np.zeros(len(raw))
        with torch.inference_mode():
            for i in range(len(train)):
                idx = torch.tensor([i])
                x = train.runs(idx)[0] if train.expanded else train.batch(idx)[0][0]
                z = (x.double() @ weight.T).numpy() @ found.mixing.T  # (T, K): the identified maps' time courses
                variance += (z**2).sum(axis=0)
        variance /= np.linalg.norm(found.mixing @ raw, axis=1) ** 2  # along each unit-norm map
        order = np.argsort(-variance, kind="stable")
        mixing = found.mixing[order]
        reparametrise(self._model, mixing, self.temporal)
        self.identification_ = Identification(mixing, found.negentropy[order], found.restart, time.perf_counter() - tic)
        self._set_maps()
        logger.info("identified %d FBNs (FastICA restart %d) in %.2f s.", len(order), found.restart,
                    self.identification_.seconds)

    def _check_basis(self, basis: torch.Tensor | np.ndarray, shapes: list[tuple[int, int]]) -> torch.Tensor:
        """A given subspace basis as float32, checked against ``n_components`` and the runs' voxels and rank."""
        if self.n_components is None:
            raise ConfigError("a basis was given but n_components=None trains on the voxels; set n_components.")
        basis = torch.as_tensor(basis, dtype=torch.float32)
        expected = (shapes[0][1], min(self.n_components, sum(s[0] for s in shapes), shapes[0][1]))
        if tuple(basis.shape) != expected:
            raise ShapeError(f"basis has shape {tuple(basis.shape)} but these runs and n_components={self.n_components} "
                             f"give {expected}; compute it with principal_subspace(runs, {self.n_components}, seed={self.seed}).")
        return basis.contiguous()

    def _train_epoch(self, model: nn.Module, train: TrainingRuns, order: torch.Tensor, optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler, scale: float, basis: torch.Tensor | None, device: torch.device,
                     autocast: torch.dtype | None, rank: int = 0, world: int = 1) -> float:
        """One pass over the training runs in ``order``, one Adam step per batch; returns the summed squared error.

        With ``world`` > 1 processes (DDP), this one takes its share of each batch; its loss is scaled by
        ``world`` so that DDP's average of the gradients is the gradient of the whole batch's loss.
        """
        model.train()
        net = model.module if hasattr(model, "module") else model
        total = 0.0
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            mine = batch[rank::world]
            weight = float(world)
            if not len(mine):  # fewer runs than processes: take one with weight 0, so every process steps alike
                mine, weight = batch[:1], 0.0
            sse, _ = self._sse(model, train, mine, device, autocast)
            loss = sse * (weight / (scale * len(batch)))
            if self.sparsity:
                maps = net.encoder.weight if basis is None else net.encoder.weight @ basis.T
                loss = loss + self.sparsity * maps.abs().mean()
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += float(sse.detach()) * (weight > 0)
        return sum_over_processes(total, world, device)

    def _scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
        if self.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.n_epochs)
        if self.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=5)
        return None

    def _fingerprint_params(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in _FINGERPRINT_PARAMS}

    def _save(self, path: Path, identity: dict, state: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
              scheduler: object, scaler: torch.amp.GradScaler, generator: torch.Generator) -> None:
        payload = {**identity, "state": state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "scheduler": scheduler.state_dict() if scheduler is not None else None,
                   "scaler": scaler.state_dict(), "generator": generator.get_state()}
        with _io.atomic_path(path) as tmp:
            torch.save(payload, tmp)

    def _restore(self, path: Path, identity: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: object, scaler: torch.amp.GradScaler, generator: torch.Generator) -> dict:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
            reason = (str(exc).splitlines() or [""])[0][:160]
            raise CorruptFileError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {reason}); delete it "
                                   "or train without resume.") from exc
        if payload.get("format") != identity["format"]:
            raise ConfigError(f"checkpoint {str(path)!r} has format {payload.get('format')}, this version writes "
                              f"{identity['format']}; delete it or train without resume.")
        saved = payload["params"]
        changed = {k: (saved.get(k), v) for k, v in identity["params"].items() if saved.get(k) != v}
        if changed:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in changed.items())
            raise ConfigError(f"checkpoint {str(path)!r} was written by another configuration ({detail}); use the "
                              "same settings, another checkpoint directory, or train without resume.")
        if payload["data"] != identity["data"]:
            raise ConfigError(f"checkpoint {str(path)!r} was trained on other data (other runs, subjects, split or "
                              "preparation); use another checkpoint directory or train without resume.")
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(payload["scheduler"])
        scaler.load_state_dict(payload["scaler"])
        generator.set_state(payload["generator"])
        logger.info("resuming %s after epoch %d.", path, payload["state"]["epoch"])
        return payload["state"]

    @staticmethod
    def _sse(model: nn.Module, data: TrainingRuns, idx: torch.Tensor, device: torch.device,
             autocast: torch.dtype | None) -> tuple[torch.Tensor, int]:
        """Summed squared reconstruction error of the runs ``idx`` (with the energy outside the subspace)."""
        with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            if data.expanded:
                return model([x.to(device, non_blocking=True) for x in data.runs(idx)], expanded=True), len(idx)
            x, residual = data.batch(idx)
            x = x.to(device, non_blocking=True)
            out = model(x)
        return torch.sum((out.float() - x) ** 2) + residual.to(device), len(idx)

    def _loss(self, model: nn.Module, data: TrainingRuns, scale: float, device: torch.device,
              autocast: torch.dtype | None, rank: int = 0, world: int = 1) -> float:
        """Mean reconstruction MSE of ``data``; with DDP each process scores its share and the sums are added."""
        model.eval()
        total = 0.0
        mine = torch.arange(rank, len(data), world)
        with torch.inference_mode():
            for start in range(0, len(mine), self.batch_size):
                sse, _ = self._sse(model, data, mine[start : start + self.batch_size], device, autocast)
                total += float(sse)
        return sum_over_processes(total, world, device) / (scale * len(data))

    def transform(self, run: np.ndarray) -> np.ndarray:
        """FBN temporal activations of one run.

        Parameters
        ----------
        run : ndarray of shape (n_timepoints, n_voxels)
            Voxel-wise z-scored run of any subject.

        Returns
        -------
        ndarray of shape (n_timepoints, n_networks)
            ``A = g(X W)``, signed consistently with ``maps_`` (identified LT+LSTM: ``X W``, see the
            class notes).
        """
        x = self._check_run(run)
        with torch.inference_mode():
            z = torch.from_numpy(x)
            if self.basis_ is not None:
                z = z @ self.basis_
            if self.temporal == "lstm" and self.identification_ is not None:
                a = self._model.encoder(z).numpy().astype(np.float64)
            else:
                a = self._model.encode(z[None])[0].numpy().astype(np.float64)
        return a * self.signs_[None, :]

    def state_dict(self) -> dict[str, object]:
        """Everything ``transform`` needs, for ``torch.save``: network weights, subspace basis, signs, parameters."""
        if not hasattr(self, "maps_"):
            raise ConfigError("this FBNEmbedding is not fitted yet; call fit() first.")
        params = {k: getattr(self, k) for k in ("n_networks", "temporal", "n_heads", "n_components", "seed", "identify")}
        ident = self.identification_
        return {"network": self._model.state_dict(), "basis": self.basis_, "signs": torch.from_numpy(self.signs_),
                "n_voxels": self.n_voxels_, "params": params,
                "identification": None if ident is None else {"mixing": torch.from_numpy(ident.mixing),
                                                              "negentropy": torch.from_numpy(ident.negentropy),
                                                              "restart": ident.restart, "seconds": ident.seconds}}

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically (``.pt``)."""
        with _io.atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> FBNEmbedding:
        """A fitted embedding from a file written by :meth:`save` (or the pipeline's ``brain/model.pt``),
        ready to ``transform`` runs of new subjects prepared on the same grid and mask."""
        path = check_file(path, "embedding model", hint="it is written by FBNEmbedding.save or `syncact run`")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            ident = state.get("identification")  # files written before identification existed hold raw weights
            emb = cls(**{"identify": "none", **state["params"]})
            width = state["basis"].shape[1] if state["basis"] is not None else int(state["n_voxels"])
            model = AutoEncoder(width, emb.n_networks, emb.temporal, emb.n_heads)
            model.load_state_dict(state["network"])
        except (KeyError, RuntimeError, TypeError, pickle.UnpicklingError) as exc:
            raise CorruptFileError(f"{str(path)!r} is not an FBN embedding written by syncact ({exc}).") from exc
        model.eval()
        emb._model, emb.basis_, emb.n_voxels_ = model, state["basis"], int(state["n_voxels"])
        emb.identification_ = None if ident is None else Identification(
            ident["mixing"].numpy(), ident["negentropy"].numpy(), int(ident["restart"]), float(ident.get("seconds", 0.0)))
        emb._set_maps(state["signs"].numpy() if ident is None else None)  # raw maps keep the signs they were saved with
        return emb
