"""One call from an image set, a network and image-specific fMRI patterns to layer maps of the brain.

:func:`map_layers` computes each layer's RDM of the images (or their residual RDMs), builds the
searchlight spheres on the patterns' mask and runs :func:`~syncact.rsa.searchlight.searchlight_rsa`;
:class:`LayerSearchlight` writes everything a figure or a second-level analysis needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from syncact.ann.registry import BuiltModel
from syncact.brain.patterns import ImagePatterns
from syncact.exceptions import DataError
from syncact.rsa.rdm import LayerRDMs, image_rdms
from syncact.rsa.residual import residual_rdms
from syncact.rsa.searchlight import SearchlightMaps, searchlight_rsa, sphere_neighbourhoods
from syncact.rsa.surface import grayordinate_neighbourhoods
from syncact.units import Executor


@dataclass
class LayerSearchlight:
    """Layer RDMs of an image set and their searchlight maps.

    Attributes
    ----------
    rdms : LayerRDMs
        The layers' RDMs of the images.
    models : LayerRDMs
        The RDMs that were mapped: ``rdms`` or their residuals.
    maps : SearchlightMaps
    mask_img : nibabel.Nifti1Image or None
        None for grayordinates.
    names : list of str
        Image names, in RDM order.
    params : dict
    brain_models : nibabel.cifti2.cifti2_axes.BrainModelAxis or None
        The grayordinates of CIFTI patterns (maps are then written as ``*.dscalar.nii``).
    """

    rdms: LayerRDMs
    models: LayerRDMs
    maps: SearchlightMaps
    mask_img: object
    names: list[str]
    params: dict[str, object] = field(default_factory=dict)
    brain_models: object | None = None

    def tables(self, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
        """``layers`` (per layer: peak similarity, significant spheres), ``layer_similarity``, ``dice``."""
        layers = self.maps.layers
        sim = self.maps.similarity
        rows = []
        for i, layer in enumerate(layers):
            row: dict[str, object] = {"layer": layer, "peak_similarity": float(np.nanmax(sim[i])),
                                      "mean_similarity": float(np.nanmean(sim[i]))}
            if self.maps.n_perm:
                row["n_significant"] = int(self.maps.significant(alpha)[i].sum())
                row["min_p_fwe"] = float(np.nanmin(self.maps.p_fwe[i]))
                row["n_winner"] = int((self.maps.winner_take_all(alpha) == i).sum())
            rows.append(row)
        out = {"layers": pd.DataFrame(rows),
               "layer_similarity": pd.DataFrame(self.rdms.similarity(), index=layers, columns=layers)}
        if self.maps.n_perm:
            out["dice"] = pd.DataFrame(self.maps.dice(alpha), index=layers, columns=layers)
        return out

    def save(self, directory: str | Path, alpha: float = 0.05) -> list[Path]:
        """Write ``maps/*.nii.gz`` (``maps/*.dscalar.nii`` on grayordinates), ``rdms.npz``, ``tables/*.csv`` and
        ``searchlight.json``; refuses an existing result."""
        from syncact._io import save_npz, write_csv, write_json

        directory = Path(directory)
        if (directory / "searchlight.json").exists():
            raise FileExistsError(f"{str(directory)!r} holds a searchlight result already; choose a new folder.")
        space = self.brain_models if self.brain_models is not None else self.mask_img
        written = self.maps.save(directory / "maps", space, alpha)
        arrays = {f"rdm/{layer}": v for layer, v in zip(self.rdms.layers, self.rdms.vectors, strict=True)}
        arrays.update({f"mapped/{layer}": v for layer, v in zip(self.models.layers, self.models.vectors, strict=True)})
        written.append(save_npz(directory / "rdms.npz", names=np.asarray(self.names), **arrays))
        for name, table in self.tables(alpha).items():
            written.append(write_csv(directory / "tables" / f"{name}.csv", table, index=name != "layers"))
        written.append(write_json(directory / "searchlight.json", {**self.params, "alpha": alpha, "images": self.names,
                                                                   "metric": self.maps.metric, "method": self.maps.method,
                                                                   "mean_abs_r_layers": self.rdms.mean_abs_offdiagonal()}))
        return written


def map_layers(images: np.ndarray, names: Sequence[str], built: BuiltModel, layers: Sequence[str],
               patterns: ImagePatterns, *, residual: bool = False, radius_mm: float = 8.0, metric: str = "correlation",
               method: str = "spearman", n_perm: int = 1000, seed: int = 0, memory_mb: float = 512.0,
               progress: bool = False, executor: Executor | None = None) -> LayerSearchlight:
    """Map each layer of a network to the brain with searchlight RSA.

    Parameters
    ----------
    images : ndarray of uint8, shape (n_images, h, w, 3)
    names : sequence of str
        Image names; ``patterns`` are reordered to them.
    built : BuiltModel
    layers : sequence of str
    patterns : ImagePatterns
        From :func:`syncact.brain.patterns.image_patterns`, :func:`~syncact.brain.patterns.patterns_from_maps` or
        :func:`~syncact.brain.patterns.patterns_from_dscalar` (grayordinates: geodesic discs on the cortex,
        :func:`~syncact.rsa.surface.grayordinate_neighbourhoods`).
    residual : bool, default=False
        Map residual RDMs (each layer's RDM regressed on the others').
    radius_mm, metric, method, n_perm, seed, memory_mb, progress, executor
        See :func:`~syncact.rsa.searchlight.searchlight_rsa` (an ``executor`` runs sphere ranges on Dask).

    Returns
    -------
    LayerSearchlight
    """
    names = list(names)
    if len(names) != len(images):
        raise DataError(f"{len(names)} names for {len(images)} images.")
    patterns = patterns.reorder(names)
    rdms = image_rdms(images, built, layers)
    models = residual_rdms(rdms) if residual else rdms
    if patterns.brain_models is not None:
        spheres = grayordinate_neighbourhoods(patterns.brain_models, radius_mm, progress=progress)
    else:
        mask = np.asarray(patterns.mask_img.dataobj) > 0
        spheres = sphere_neighbourhoods(mask, patterns.mask_img.affine, radius_mm)
    maps = searchlight_rsa(patterns.patterns, spheres, models, metric=metric, method=method, n_perm=n_perm, seed=seed,
                           memory_mb=memory_mb, progress=progress, executor=executor)
    params = {"model": built.name, "weights": built.weights, "weights_digest": built.weights_digest, "layers": list(layers),
              "residual": residual, "radius_mm": radius_mm, "metric": metric, "method": method, "n_perm": n_perm,
              "seed": seed, "n_spheres": spheres.n_spheres, "patterns": f"{patterns.method}/{patterns.output}",
              "space": "grayordinates" if patterns.brain_models is not None else "volume"}
    return LayerSearchlight(rdms, models, maps, patterns.mask_img, names, params, patterns.brain_models)
