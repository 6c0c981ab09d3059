"""The ``[annotation]`` stage: describe every FBN and every paired filter, score each pair's agreement."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from syncact.ann.registry import model_key, weights_label
from syncact.annotate import CrossAnnotation
from syncact.brain import PreparedStore
from syncact.config import ExperimentConfig
from syncact.exceptions import ConfigError
from syncact.experiment.layout import RunDirectory
from syncact.experiment.result import PairingKey
from syncact.experiment.stages import Features
from syncact.experiment.units import filter_names_of
from syncact.networks import BrainNetworks
from syncact.stimulus import Frames
from syncact.sync import Pairing

logger = logging.getLogger(__name__)


def paired_filters(pairings: dict[PairingKey, Pairing], features: Features, model: str, weights: str,
                   layer: str) -> np.ndarray:
    """Layer indices of the filters that are some FBN's Eq.2 filter in any run of one model's layer, sorted."""
    used: set[int] = set()
    for key, pairing in pairings.items():
        if key[:3] == (model, weights, layer):
            indices = features.filter_indices[(f"{model}/{weights}", key[3], layer)]
            used.update(indices[pairing.eq2["filter_index"].to_numpy()].tolist())
    return np.array(sorted(used), dtype=int)


def annotate_pairs(config: ExperimentConfig, run_dir: RunDirectory, embedding: BrainNetworks, store: PreparedStore,
                   frames: dict[str, Frames], features: Features, pairings: dict[PairingKey, Pairing]) -> CrossAnnotation:
    """Descriptions of the FBNs (atlases, term maps, labels; the HCP parcellations on grayordinates) and of the
    paired filters (concepts, frame features, class scores), cross-annotated pair by pair; written to
    ``annotation/``."""
    from syncact.ann.probe import imagenet_categories
    from syncact.annotate import (
        CoordinateAtlas,
        LabelAtlas,
        TermMaps,
        cross_annotate,
        describe_fbns,
        describe_filters,
        read_label_file,
        sentence_encoder,
    )
    from syncact.annotate.parcellations import describe_grayordinate_fbns
    from syncact.stimulus.features import frame_features

    ac = config.annotation
    encoder = sentence_encoder() if ac.agreement else None  # before the slow part: a missing model fails at once
    fbn_names = next(iter(pairings.values())).eq2["fbn"].tolist()
    fbn_labels = read_label_file(ac.fbn_labels) if ac.fbn_labels else None
    if store.kind == "cifti":
        if ac.atlases:
            logger.info("[annotation] atlases %s are volume coordinate atlases: on grayordinates the HCP parcellations "
                        "%s describe the FBNs.", list(ac.atlases), list(ac.parcellations))
        fbns = describe_grayordinate_fbns(embedding.maps_, store, fbn_names, parcellations=ac.parcellations,
                                          term_maps=ac.term_maps, labels=fbn_labels, top=ac.top_terms)
    else:
        mask_img = store.mask_img()
        describers = [getattr(CoordinateAtlas, name)() for name in ac.atlases]
        describers += [LabelAtlas.from_files(e["image"], e["labels"], name=e.get("name")) for e in ac.label_atlases]
        if ac.term_maps is not None:
            describers.append(TermMaps.from_directory(ac.term_maps))
        fbns = describe_fbns(embedding.maps_, np.asarray(mask_img.dataobj, dtype=bool), mask_img.affine, fbn_names,
                             describers, labels=fbn_labels, top=ac.top_terms)
    runs = list(frames)
    table = pd.concat([frame_features(frames[r].images) for r in runs], ignore_index=True) if ac.features else None
    user = read_label_file(ac.filter_labels) if ac.filter_labels else None
    filters = {}
    for spec in config.models:
        key, weights = model_key(spec.name, spec.weights), weights_label(spec.weights)
        scores = categories = None
        if (key, runs[0]) in features.logits:
            scores = np.concatenate([features.logits[(key, r)] for r in runs])
            categories = imagenet_categories() if scores.shape[1] == 1000 else None
        for layer in spec.layers:
            used = paired_filters(pairings, features, spec.name, weights, layer)
            names = filter_names_of(used)
            acts = np.concatenate([features.activations[(key, r)].layers[layer][:, used] for r in runs])
            labels = None if user is None else _filter_labels(
                user, spec.name, layer, names, features.activations[(key, runs[0])].layers[layer].shape[1])
            filters[(spec.name, weights, layer)] = describe_filters(acts, names, features=table, logits=scores,
                                                                    categories=categories, labels=labels, top=ac.top_terms)
    functional = [source for source, given in (("terms", ac.term_maps), ("labels", ac.fbn_labels)) if given]
    result = cross_annotate(fbns, filters, {k: p.eq2 for k, p in pairings.items()}, encoder=encoder,
                            fbn_sources=functional or None, n_perm=ac.n_perm, seed=config.seed)
    run_dir.write_annotation("fbns", result.fbns)
    for (model, weights, layer), described in result.filters.items():
        run_dir.write_annotation(f"filters_{model}_{weights}_{layer}", described)
    run_dir.write_annotation("pairs", result.pairs)
    if len(result.summary):
        run_dir.write_table("agreement", result.summary)
    return result


def _filter_labels(user: pd.DataFrame, model: str, layer: str, names: list[str], n_filters: int) -> pd.DataFrame | None:
    """The rows of a user's filter-label table for one model and layer (``model`` / ``layer`` columns optional)."""
    rows = user
    for column, value in (("model", model), ("layer", layer)):
        if column in rows:
            rows = rows[rows[column] == value]
    if "filter" in rows:
        unknown = sorted(set(rows["filter"]) - set(filter_names_of(np.arange(n_filters))))
        if unknown:
            raise ConfigError(f"[annotation] filter_labels names {unknown[:5]}, which {model} {layer} does not have "
                              f"(filters are filter-0 ... filter-{n_filters - 1}).")
        rows = rows[rows["filter"].isin(names)]
    return rows if len(rows) else None
