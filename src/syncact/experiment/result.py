"""What a run produced, in memory: the typed result every stage fills and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from syncact.analysis import MethodComparison
from syncact.ann import Activations
from syncact.annotate import CrossAnnotation
from syncact.encoding import EncodingResult
from syncact.experiment.provenance import Provenance
from syncact.networks import BrainNetworks
from syncact.stimulus import Frames
from syncact.sync import Pairing


class PairingKey(NamedTuple):
    """One pairing of a run: a model's layer against the FBNs of one run (a plain tuple too)."""

    model: str
    weights: str
    layer: str
    run: str


@dataclass
class PairCard:
    """Everything the report shows of one Eq.2 pair, computed by the experiment (the report only draws it).

    Attributes
    ----------
    key : PairingKey
    fbn : int
        FBN index.
    filter : int
        The filter's index in its layer (all filters, constant ones included).
    row : dict
        The pair's Eq.2 row (``pcc``, p-values, interval, ``significant``, ...).
    fbn_trace, filter_trace : ndarray of shape (n_timepoints,)
        The FBN's test-mean activation and the filter's activation as it was paired (HRF-convolved when
        ``[pairing] hrf`` is set).
    top_frames : ndarray of int, shape (n_top,)
        Frames where the filter fires most (not HRF-delayed), at least 2 frames apart.
    frame_times : ndarray of shape (n_top,)
        Their times in the movie (s).
    heatmaps : ndarray of shape (n_top, height, width)
        The filter's feature map over each top frame, resized to the frame.
    """

    key: PairingKey
    fbn: int
    filter: int
    row: dict[str, object]
    fbn_trace: np.ndarray
    filter_trace: np.ndarray
    top_frames: np.ndarray
    frame_times: np.ndarray
    heatmaps: np.ndarray


@dataclass
class ExperimentResult:
    """Everything a run produced, in memory, plus where it was written.

    Attributes
    ----------
    out_dir : Path
    summary : DataFrame
        One row per (model, weights, layer, run): mean PCC, its p-value, significance counts.
    pairings : dict of PairingKey to Pairing
    embedding : BrainNetworks
        The fitted embedding (or baseline, by ``[embedding] method``).
    fbn_activations : dict of run to ndarray of shape (n_timepoints, n_fbns)
        Test-subject mean FBN activations.
    split : dict of str to list of str
        Subjects per ``train`` / ``validation`` / ``test``.
    frames : dict of run to Frames
    activations : dict of (model key, run) to Activations
    filter_indices : dict of (model key, run, layer) to ndarray of int
        The layer indices of the filters that were paired (constant filters are left out): column ``j`` of
        a pairing is filter ``filter_indices[...][j]`` of its layer.
    tr : float
        Repetition time (s).
    recovery : DataFrame or None
        Recovery of planted networks when the dataset carries ``derivatives/ground_truth``.
    detection : DataFrame or None
        Per pairing, mean PCC and share of significant pairs among FBNs that carry a planted driven
        network ("driven": the power) and FBNs that carry none ("unrelated": the false positives).
    comparison : MethodComparison or None
        The ``[sweep]`` of methods and numbers of networks, when configured.
    annotation : CrossAnnotation or None
        Descriptions of FBNs and paired filters and their agreement, with ``[annotation]``.
    encoding : EncodingResult or None
        Encoding models of voxels and FBNs, their ceilings and null, with ``[encoding]``
        (:mod:`syncact.experiment.encoding`).
    peaks : DataFrame or None
        Each FBN map's peak (MNI mm) and the nearest ROI of a coordinate atlas
        (:func:`~syncact.annotate.map_peaks`; volumes only).
    cards : list of PairCard
        One per Eq.2 pair of every model's last listed layer on the first run (what the report shows).
    timings : dict of str to float
        Seconds per stage.
    provenance : Provenance or None
        Versions, the configuration's hash, the inputs' keys, command, wall time and peak memory.
    """

    out_dir: Path
    summary: pd.DataFrame
    pairings: dict[PairingKey, Pairing]
    embedding: BrainNetworks
    fbn_activations: dict[str, np.ndarray]
    split: dict[str, list[str]]
    frames: dict[str, Frames]
    activations: dict[tuple[str, str], Activations]
    filter_indices: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    tr: float = float("nan")
    recovery: pd.DataFrame | None = None
    detection: pd.DataFrame | None = None
    comparison: MethodComparison | None = None
    annotation: CrossAnnotation | None = None
    encoding: EncodingResult | None = None
    peaks: pd.DataFrame | None = None
    cards: list[PairCard] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report" / "index.html"

    def paired_filters(self, key: PairingKey) -> np.ndarray:
        """Layer index of each FBN's Eq.2 filter, shape (n_fbns,)."""
        indices = self.filter_indices[(f"{key.model}/{key.weights}", key.run, key.layer)]
        return indices[self.pairings[key].eq2["filter_index"].to_numpy()]
