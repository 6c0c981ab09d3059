"""The planted truth of a simulated dataset, and how well a run recovered and detected it."""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from syncact.analysis import GroundTruth, fbn_roles, recovery_table
from syncact.brain import PreparedStore
from syncact.brain.cifti import read_brain_models
from syncact.experiment.result import PairingKey
from syncact.networks import BrainNetworks
from syncact.sync import Pairing

logger = logging.getLogger(__name__)


def load_ground_truth(bids: Path, store: PreparedStore, kept: dict[str, tuple[int, int]]) -> GroundTruth | None:
    """Planted networks of a simulated dataset (``derivatives/ground_truth``), on the store's voxels or
    grayordinates, or None."""
    gt = Path(bids) / "derivatives" / "ground_truth"
    if not (gt / "networks.tsv").is_file():
        return None
    networks = pd.read_csv(gt / "networks.tsv", sep="\t", keep_default_na=False)
    if store.kind == "cifti":
        path = gt / "planted_maps.dscalar.nii"
        if not path.is_file() or read_brain_models(path) != store.brain_models(all_columns=True):
            logger.warning("no ground truth maps on the data's grayordinates; recovery is not computed.")
            return None
        maps = np.asarray(nib.load(path).get_fdata(), dtype=np.float64)[:, store.voxels]
    else:
        mask = np.asarray(store.mask_img().dataobj, dtype=bool)
        planted = np.asarray(nib.load(gt / "planted_maps.nii.gz").dataobj) if (gt / "planted_maps.nii.gz").is_file() else None
        if planted is None or planted.shape[:3] != mask.shape:
            logger.warning("ground truth maps are on another grid; recovery is not computed.")
            return None
        maps = planted[mask].T
    bold = {label: pd.read_csv(gt / f"run-{label}_drivers.tsv", sep="\t").iloc[slice(*kept[label])].reset_index(drop=True)
            for label in kept if (gt / f"run-{label}_drivers.tsv").is_file()}
    return GroundTruth(networks, maps, bold) if bold else None


def recovery_and_detection(truth: GroundTruth, embedding: BrainNetworks, fbn_activations: dict[str, np.ndarray],
                           pairings: dict[PairingKey, Pairing]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recovery of planted networks and the pairing's power / false positives per test.

    Detection rows per pairing: ``driven`` FBNs (tracking a planted driven network, r >= 0.5), ``unrelated``
    FBNs (tracking none) and ``best_of_planted`` (the FBN that tracks each planted driven network best:
    the share called significant is the share of planted networks found).
    """
    recovery = recovery_table(truth.networks, truth.maps, embedding.maps_, truth.bold, fbn_activations)
    roles = fbn_roles(truth.bold, fbn_activations)
    rows = []
    best = recovery.loc[(recovery["kind"] == "stimulus") & (recovery["temporal_fbn"] >= 0), "temporal_fbn"].to_numpy()
    for (model, weights, layer, label), pairing in pairings.items():
        calls = pairing.decisions()
        pcc = pairing.eq2["pcc"].to_numpy()
        groups = {role: (roles["role"] == role).to_numpy() for role in ("driven", "unrelated")}
        groups["best_of_planted"] = np.isin(np.arange(len(pcc)), best)  # power: each planted driven network found
        for role, chosen in groups.items():
            shares = {f"share_{test}": float(calls[test].to_numpy()[chosen].mean()) if chosen.any() else np.nan
                      for test in calls}
            rows.append({"model": model, "weights": weights, "layer": layer, "run": label, "fbn_role": role,
                         "n_fbns": int(chosen.sum()),
                         "mean_pcc": float(pcc[chosen].mean()) if chosen.any() else np.nan, **shares})
    return recovery, pd.DataFrame(rows)
