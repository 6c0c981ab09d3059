"""The data of the report's pair cards: traces as paired, the top frames of each filter and its feature maps."""

from __future__ import annotations

import numpy as np

from syncact.ann import get_model
from syncact.ann.probe import layer_maps, select_maps
from syncact.ann.registry import model_key, weights_label
from syncact.annotate.filters import top_frames
from syncact.config import ExperimentConfig
from syncact.experiment.result import ExperimentResult, PairCard, PairingKey
from syncact.sync import as_paired

N_TOP_FRAMES = 4


def pair_cards(result: ExperimentResult, config: ExperimentConfig, run: str) -> list[PairCard]:
    """One card per Eq.2 pair of every model's last listed layer on one run.

    The trace shows the filter as it was paired (HRF-convolved with ``[pairing] hrf``); the frames are
    those where the filter fires most (not HRF-delayed), with its feature map over each, from one more
    forward pass of the model over those frames only.
    """
    frames = result.frames[run]
    fbn_act = result.fbn_activations[run]
    cards = []
    for spec in config.models:
        key = PairingKey(spec.name, weights_label(spec.weights), spec.layers[-1], run)
        pairing = result.pairings[key]
        raw = result.activations[(model_key(spec.name, spec.weights), run)].layers[key.layer]
        paired = as_paired(raw, hrf=config.pairing.hrf, tr=frames.tr)
        indices = result.paired_filters(key)
        unique = sorted(set(indices.tolist()))
        top = dict(zip(unique, top_frames(raw, unique, k=N_TOP_FRAMES, min_gap=2), strict=True))
        shown = sorted({int(t) for rows in top.values() for t in rows if t >= 0})
        built = get_model(spec.name, spec.weights, seed=config.seed)
        maps = dict(zip(shown, layer_maps(frames.images[shown], built, key.layer), strict=True))
        heat = {}
        for f in unique:
            chosen = [int(t) for t in top[f] if t >= 0]
            heat[f] = select_maps(np.stack([maps[t] for t in chosen]), [f], frames.images.shape[1:3])
        for k, row in enumerate(pairing.eq2.to_dict(orient="records")):
            f = int(indices[k])
            chosen = np.array([int(t) for t in top[f] if t >= 0], dtype=int)
            cards.append(PairCard(key=key, fbn=k, filter=f, row=row, fbn_trace=fbn_act[:, k], filter_trace=paired[:, f],
                                  top_frames=chosen, frame_times=frames.times[chosen], heatmaps=heat[f]))
    return cards
