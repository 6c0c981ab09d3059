"""Layer-orthogonal image synthesis: images whose RDMs differ as much as possible across a network's layers.

The objective (the second seed): for a set of N images, the RDM of each chosen layer is computed from
its flattened activations (correlation distance), and the mean squared Pearson correlation between
every two layers' RDMs (upper triangles) is minimised by gradient descent on the images. With the
layers' RDMs orthogonal, each layer's RDM is a fingerprint of that layer alone, so a brain region whose
RDM matches it is mapped to that layer rather than to its neighbours.

Image priors that keep the optimisation on images rather than adversarial noise (as in feature
visualisation, Olah et al. 2017):

- a decorrelated parameterisation: each image is a Fourier spectrum scaled by ``1 / f ** decay`` (so
  gradient steps change low frequencies as readily as high ones, as in natural images) in a
  decorrelated colour space, mapped to [0, 1] by a sigmoid;
- random jitter (translation by up to ``jitter`` pixels, different per image and step), so the
  result holds for the image, not one alignment of it with the network's strides;
- a total-variation term (``smoothness``) that penalises pixel noise;
- a reward for each layer's RDM spread (``spread``), so that no layer's RDM is decorrelated by being
  flattened (every pair of images equally dissimilar), which a noisy brain region could not carry.

The images are always evaluated (RDMs, the reported orthogonality) without jitter, through the
model's own preprocessing, as an experiment would show them. Orthogonality holds at the input size the
images were optimised for: the same images fed to the network at another size give other RDMs (measured:
mean |r| 0.05 at the 128-pixel input they were made for, 0.33 when resized to 224), so analyse them with
``built.with_input_size(size)`` when ``input_size`` was not the model's own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from syncact._io import bar_disabled
from syncact._validation import check_positive
from syncact.ann.inference import inference_copy
from syncact.ann.registry import BuiltModel
from syncact.exceptions import ConfigError
from syncact.rsa.rdm import LayerRDMs, image_rdms

logger = logging.getLogger(__name__)

# Square root of the colour covariance of ImageNet pixels (Olah et al.'s ``color_correlation_svd_sqrt``):
# maps decorrelated colour channels to RGB.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImages(torch.nn.Module):
    """N images parameterised by decorrelated (1/f-scaled) Fourier spectra in decorrelated colour space.

    Parameters
    ----------
    n_images : int
    size : int
        Side of the square images in pixels.
    decay : float, default=1.0
        Spectral scaling exponent (1 = natural images' 1/f amplitude).
    init_scale : float, default=0.01
        Standard deviation of the initial spectrum (small: the images start near mid-grey).
    generator : torch.Generator, optional
    """

    def __init__(self, n_images: int, size: int, *, decay: float = 1.0, init_scale: float = 0.01,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = torch.sqrt(fx**2 + fy**2)
        scale = 1.0 / torch.clamp(freq, min=1.0 / size) ** decay
        self.register_buffer("scale", (scale * size / scale.mean())[None, None, :, :, None] / size)
        shape = (n_images, 3, size, size // 2 + 1, 2)
        self.spectrum = torch.nn.Parameter(torch.randn(shape, generator=generator) * init_scale)
        self.size = size

    def forward(self) -> torch.Tensor:
        """Images in [0, 1]: (n_images, 3, size, size)."""
        spectrum = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        decorrelated = torch.fft.irfft2(spectrum, s=(self.size, self.size), norm="ortho")
        rgb = torch.einsum("nchw,rc->nrhw", decorrelated, _COLOR_SQRT.to(decorrelated))
        return torch.sigmoid(rgb)


def differentiable_rdm(patterns: torch.Tensor) -> torch.Tensor:
    """Correlation-distance RDM (upper triangle) of (n_images, n_features) patterns, with gradients."""
    x = patterns - patterns.mean(dim=1, keepdim=True)
    x = x / (x.norm(dim=1, keepdim=True) + 1e-12)
    iu = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
    return (1 - x @ x.T)[iu[0], iu[1]]


def rdm_correlations(rdms: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every two RDMs (rows of (n_layers, n_pairs)): (n_layers, n_layers)."""
    z = rdms - rdms.mean(dim=1, keepdim=True)
    z = z / (z.norm(dim=1, keepdim=True) + 1e-12)
    return z @ z.T


def orthogonality_loss(rdms: torch.Tensor) -> torch.Tensor:
    """Mean squared correlation between different layers' RDMs (0 when they are orthogonal)."""
    r = rdm_correlations(rdms)
    off = ~torch.eye(r.shape[0], dtype=torch.bool, device=r.device)
    return (r[off] ** 2).mean()


def rdm_spread(rdms: torch.Tensor) -> torch.Tensor:
    """Mean log coefficient of variation of each RDM's dissimilarities (higher: the images are told apart more)."""
    return torch.log(rdms.std(dim=1) / (rdms.mean(dim=1).abs() + 1e-12) + 1e-12).mean()


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of (n, 3, h, w) images."""
    return (images[..., 1:, :] - images[..., :-1, :]).abs().mean() + (images[..., :, 1:] - images[..., :, :-1]).abs().mean()


def _jitter(images: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    if pixels <= 0:
        return images
    shifts = torch.randint(-pixels, pixels + 1, (images.shape[0], 2), generator=generator)
    return torch.stack([torch.roll(img, (int(dy), int(dx)), dims=(1, 2)) for img, (dy, dx) in zip(images, shifts, strict=True)])


class _LayerTaps:
    """A network copy with hooks that keep chosen layers' outputs (flattened) from the last forward pass."""

    def __init__(self, built: BuiltModel, layers: Sequence[str], device: torch.device) -> None:
        self.specs = {layer: built.resolve_layer(layer) for layer in layers}
        self.module = inference_copy(built, [s.module for s in self.specs.values() if s.module], device, channels_last=False)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.outputs: dict[str, torch.Tensor] = {}
        modules = dict(self.module.named_modules())
        for layer, spec in self.specs.items():
            modules[spec.module].register_forward_hook(self._hook(layer))
        prep = built.preprocessing
        self.mean = torch.tensor(prep.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(prep.std, device=device).view(1, 3, 1, 1)

    def _hook(self, layer: str):  # noqa: ANN202
        spec = self.specs[layer]

        def record(_module, _inputs, output) -> None:  # noqa: ANN001
            out = output[0] if isinstance(output, (tuple, list)) else output
            out = spec.post(out) if spec.post is not None else out
            self.outputs[layer] = out.float().reshape(out.shape[0], -1)

        return record

    def __call__(self, images: torch.Tensor, input_size: int) -> torch.Tensor:
        """(n_layers, n_pairs) RDMs of [0, 1] images."""
        if images.shape[-1] != input_size:
            images = F.interpolate(images, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=True)
        self.outputs = {}
        self.module((images - self.mean) / self.std)
        return torch.stack([differentiable_rdm(self.outputs[layer]) for layer in self.specs])


@dataclass
class SynthesisResult:
    """Images synthesised for layer-orthogonal RDMs.

    Attributes
    ----------
    images : ndarray of uint8, shape (n_images, size, size, 3)
    rdms : LayerRDMs
        The layers' RDMs of the synthesised images (no jitter, the model's preprocessing).
    history : list of dict
        Per logged step: ``step``, ``loss``, ``orthogonality`` (mean squared RDM correlation),
        ``mean_abs_r``, ``smoothness``, ``spread``.
    reference : LayerRDMs or None
        The same layers' RDMs of reference (natural) images, when given.
    params : dict
        Everything the synthesis was run with (model, weights digest, layers, steps, seed...).
    """

    images: np.ndarray
    rdms: LayerRDMs
    history: list[dict[str, float]]
    reference: LayerRDMs | None = None
    params: dict[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, float | None]:
        """Mean |r| between layer RDMs, synthesised vs reference images."""
        return {"mean_abs_r_synthesized": self.rdms.mean_abs_offdiagonal(),
                "mean_abs_r_reference": None if self.reference is None else self.reference.mean_abs_offdiagonal()}

    def save(self, directory: str | Path) -> list[Path]:
        """Write PNG images, ``rdms.npz`` (per-layer RDMs, reference too), ``history.csv``, ``synthesis.json``.

        Refuses a folder that already holds a synthesis (nothing is overwritten).
        """
        import pandas as pd

        from syncact._io import save_npz, write_csv, write_json
        from syncact.stimulus.images import save_images

        directory = Path(directory)
        if (directory / "synthesis.json").exists():
            raise FileExistsError(f"{str(directory)!r} holds a synthesis already; choose a new folder.")
        written = save_images(self.images, directory / "images")
        arrays = {f"synthesized/{layer}": v for layer, v in zip(self.rdms.layers, self.rdms.vectors, strict=True)}
        if self.reference is not None:
            arrays.update({f"reference/{layer}": v for layer, v in zip(self.reference.layers, self.reference.vectors, strict=True)})
        written.append(save_npz(directory / "rdms.npz", **arrays))
        written.append(write_csv(directory / "history.csv", pd.DataFrame(self.history)))
        similarity = {"synthesized": self.rdms.similarity().tolist()}
        if self.reference is not None:
            similarity["reference"] = self.reference.similarity().tolist()
        written.append(write_json(directory / "synthesis.json", {**self.params, **self.summary(),
                                                                   "layer_similarity": similarity}))
        return written


def synthesize(built: BuiltModel, layers: Sequence[str], *, n_images: int = 16, size: int | None = None,
               input_size: int | None = None, steps: int = 300, lr: float = 0.05, jitter: int = 8,
               smoothness: float = 0.05, spread: float = 0.2, decay: float = 1.0, reference: np.ndarray | None = None, seed: int = 0,
               device: str | torch.device = "cpu", log_every: int = 10, progress: bool = True) -> SynthesisResult:
    """Synthesise images whose RDMs are as close to orthogonal as possible across ``layers``.

    Parameters
    ----------
    built : BuiltModel
        From :func:`syncact.ann.get_model` (GoogLeNet with ImageNet weights is the paper's network;
        EfficientNet-Lite0 works offline).
    layers : sequence of str
        At least two layers (aliases such as ``block1``..``block4`` or module names).
    n_images : int, default=16
    size : int, optional
        Side of the synthesised images (default: the model's input size).
    input_size : int, optional
        Side the images are resized to for the network (default: the model's input size). Smaller is
        faster on a CPU, for trials; the reported RDMs use the same size.
    steps : int, default=300
    lr : float, default=0.05
        Adam learning rate on the Fourier parameters, annealed (cosine) to 5 % of it by the last step.
    jitter : int, default=8
        Maximum random translation in pixels per step.
    smoothness : float, default=0.05
        Weight of the total-variation penalty.
    spread : float, default=0.2
        Weight of the reward for each layer's RDM spread (:func:`rdm_spread`). Without it the cheapest way to
        decorrelate two RDMs is to flatten one (all images equally dissimilar, so its small remaining
        structure is noise that no brain region could carry).
    decay : float, default=1.0
        Spectral decay of the parameterisation.
    reference : ndarray of uint8, shape (n_ref, h, w, 3), optional
        Natural images whose RDM orthogonality is reported beside the result (e.g. :func:`syncact.stimulus.natural_images`).
    seed : int, default=0
    device : str or torch.device, default="cpu"
    log_every : int, default=10
    progress : bool, default=True

    Returns
    -------
    SynthesisResult
    """
    layers = list(layers)
    if len(layers) < 2 or len(set(layers)) != len(layers):
        raise ConfigError(f"synthesis needs at least two different layers, got {layers!r}.")
    check_positive("n_images", n_images, integer=True)
    if n_images < 4:
        raise ConfigError(f"n_images={n_images}: an RDM correlation needs at least 3 pairs; use 4 or more images.")
    check_positive("steps", steps, integer=True)
    check_positive("lr", lr)
    check_positive("jitter", jitter, integer=True, allow_zero=True)
    check_positive("smoothness", smoothness, allow_zero=True)
    check_positive("spread", spread, allow_zero=True)
    device = torch.device(device)
    size = int(size or built.input_size)
    input_size = int(input_size or built.input_size)
    generator = torch.Generator().manual_seed(seed)
    taps = _LayerTaps(built, layers, device)  # resolves every layer first: an unknown name fails here
    params = FourierImages(n_images, size, decay=decay, generator=generator).to(device)
    optimizer = torch.optim.Adam(params.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr * 0.05)
    history: list[dict[str, float]] = []
    bar = tqdm(range(1, steps + 1), desc=f"synthesis {built.name}", unit="step", disable=bar_disabled(progress), leave=False)
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        images = params()
        rdms = taps(_jitter(images, jitter, generator), input_size)
        ortho = orthogonality_loss(rdms)
        tv = total_variation(images)
        spread_term = rdm_spread(rdms)
        loss = ortho + smoothness * tv - spread * spread_term
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step in (1, steps):
            with torch.no_grad():
                r = rdm_correlations(rdms)
                off = ~torch.eye(len(layers), dtype=torch.bool, device=r.device)
                row = {"step": step, "loss": float(loss), "orthogonality": float(ortho),
                       "mean_abs_r": float(r[off].abs().mean()), "smoothness": float(tv), "spread": float(spread_term)}
            history.append(row)
            bar.set_postfix(mean_abs_r=f"{row['mean_abs_r']:.3f}")
    with torch.no_grad():
        final = params().clamp(0, 1)
    result_images = (final.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)
    evaluated = image_rdms(result_images, built, layers, input_size=input_size)
    ref = image_rdms(reference, built, layers, input_size=input_size) if reference is not None else None
    meta = {"model": built.name, "weights": built.weights, "weights_digest": built.weights_digest, "layers": layers,
            "n_images": n_images, "size": size, "input_size": input_size, "steps": steps, "lr": lr, "jitter": jitter,
            "smoothness": smoothness, "spread": spread, "decay": decay, "seed": seed}
    return SynthesisResult(result_images, evaluated, history, ref, meta)

