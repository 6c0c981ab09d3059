"""Cross-annotation of a whole experiment: describe every FBN and every paired filter, score each pair.

:func:`cross_annotate` is what the pipeline's ``[annotation]`` stage calls; every piece is also usable alone
(:mod:`syncact.annotate.fbns`, :mod:`syncact.annotate.filters`, :mod:`syncact.annotate.agreement`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from syncact.annotate.agreement import Encoder, agreement, description_text
from syncact.annotate.fbns import COLUMNS, user_labels
from syncact.annotate.filters import class_drivers, feature_drivers

logger = logging.getLogger(__name__)


class FBNDescriber(Protocol):
    """Anything with ``describe(maps, mask, affine, names, top=...) -> description rows``."""

    def describe(self, maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str], *,
                 top: int = 3) -> pd.DataFrame: ...


def describe_fbns(maps: np.ndarray, mask: np.ndarray, affine: np.ndarray, names: Sequence[str],
                  describers: Sequence[FBNDescriber], *, labels: pd.DataFrame | None = None, top: int = 3) -> pd.DataFrame:
    """Every describer's terms for every FBN, plus the user's labels, as one description table.

    Parameters
    ----------
    maps : ndarray of shape (n_fbns, n_voxels)
    mask : ndarray of bool, 3D
    affine : ndarray of shape (4, 4)
    names : sequence of str, length n_fbns
    describers : sequence of FBNDescriber
        :class:`~syncact.annotate.CoordinateAtlas`, :class:`~syncact.annotate.LabelAtlas`,
        :class:`~syncact.annotate.TermMaps` or anything with the same ``describe``.
    labels : DataFrame, optional
        A user label table (columns ``fbn, label``).
    top : int, default=3

    Returns
    -------
    DataFrame
        ``unit, source, rank, term, score``.
    """
    tables = [d.describe(maps, mask, affine, names, top=top) for d in describers]
    if labels is not None:
        tables.append(user_labels(labels, names, column="fbn"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def describe_filters(activations: np.ndarray, names: Sequence[str], *, features: pd.DataFrame | None = None,
                     logits: np.ndarray | None = None, categories: Sequence[str] | None = None,
                     labels: pd.DataFrame | None = None, top: int = 3) -> pd.DataFrame:
    """Class, frame-feature and user-label descriptions of some filters over the whole movie.

    Parameters
    ----------
    activations : ndarray of shape (n_frames, n_filters)
        The filters' activations on every frame of the movie (all runs).
    names : sequence of str, length n_filters
    features : DataFrame of shape (n_frames, n_features), optional
        :func:`syncact.stimulus.features.frame_features` of the frames: frame-feature descriptions when given.
    logits, categories : optional
        Class scores (n_frames, n_classes) and class names: class descriptions when given.
    labels : DataFrame, optional
        A user label table (columns ``filter, label``).
    top : int, default=3

    Returns
    -------
    DataFrame
        ``unit, source, rank, term, score``.
    """
    tables = []
    if logits is not None and categories is not None:
        tables.append(class_drivers(activations, logits, categories, names, top=top))
    if features is not None:
        tables.append(feature_drivers(activations, features, names, top=min(top, 2)))
    if labels is not None:
        tables.append(user_labels(labels, names, column="filter"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


@dataclass
class CrossAnnotation:
    """Descriptions of both sides and the agreement of every pair.

    Attributes
    ----------
    fbns : DataFrame
        FBN description rows (``unit, source, rank, term, score``).
    filters : dict of (model, weights, layer) to DataFrame
        Filter description rows of the filters paired in any run.
    pairs : DataFrame
        One row per Eq.2 pair: ``model, weights, layer, run, fbn, filter, fbn_text, filter_text`` and, with
        an encoder, ``agreement, p_agreement``.
    summary : DataFrame
        Per pairing: ``mean_agreement, mean_agreement_null, p_agreement, n_pairs`` (with an encoder).
    """

    fbns: pd.DataFrame
    filters: dict[tuple[str, str, str], pd.DataFrame]
    pairs: pd.DataFrame
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)


def cross_annotate(fbn_descriptions: pd.DataFrame, filter_descriptions: Mapping[tuple[str, str, str], pd.DataFrame],
                   pairs: Mapping[tuple[str, str, str, str], pd.DataFrame], *, encoder: Encoder | None = None,
                   fbn_sources: Sequence[str] | None = None, n_perm: int = 1000, seed: int = 0) -> CrossAnnotation:
    """Join both sides' descriptions along every pairing and score their agreement against shuffled pairs.

    Parameters
    ----------
    fbn_descriptions : DataFrame
        From :func:`describe_fbns`.
    filter_descriptions : mapping of (model, weights, layer) to DataFrame
        From :func:`describe_filters`.
    pairs : mapping of (model, weights, layer, run) to DataFrame
        Eq.2 tables (columns ``fbn`` and ``filter``), as :attr:`syncact.sync.Pairing.eq2`.
    encoder : callable, optional
        Sentence encoder (:func:`syncact.annotate.sentence_encoder`); no agreement without it.
    fbn_sources : sequence of str, optional
        The FBN description sources that make the text compared with the filter's (default: all). Atlas
        networks and regions say where an FBN is, meta-analytic terms and labels what it does; only the
        latter share a vocabulary with what drives a filter, so the pipeline uses them when it has them.
    n_perm : int, default=1000
    seed : int, default=0

    Returns
    -------
    CrossAnnotation
    """
    fbn_text = {u: description_text(fbn_descriptions, u, sources=fbn_sources) for u in fbn_descriptions["unit"].unique()}
    rows, summaries = [], []
    for (model, weights, layer, run), eq2 in pairs.items():
        described = filter_descriptions.get((model, weights, layer), pd.DataFrame(columns=COLUMNS))
        filter_text = {u: description_text(described, u) for u in described["unit"].unique()}
        table = pd.DataFrame({"model": model, "weights": weights, "layer": layer, "run": run,
                              "fbn": eq2["fbn"].to_numpy(), "filter": eq2["filter"].to_numpy()})
        table["fbn_text"] = [fbn_text.get(u, "") for u in table["fbn"]]
        table["filter_text"] = [filter_text.get(u, "") for u in table["filter"]]
        if encoder is not None:
            usable = (table["fbn_text"] != "") & (table["filter_text"] != "")
            if usable.sum() >= 2:
                scored = agreement(table["fbn_text"].tolist(), table["filter_text"].tolist(), encoder=encoder,
                                   n_perm=n_perm, seed=seed)
                table["agreement"] = scored.pairs["agreement"].to_numpy()
                table["p_agreement"] = scored.pairs["p_agreement"].to_numpy()
                summaries.append({"model": model, "weights": weights, "layer": layer, "run": run,
                                  "mean_agreement": scored.mean, "mean_agreement_null": scored.mean_null,
                                  "p_agreement": scored.p_mean, "n_pairs": int(usable.sum())})
            else:
                logger.warning("%s %s %s run %s: fewer than 2 pairs are described on both sides; no agreement.",
                               model, weights, layer, run)
        rows.append(table)
    return CrossAnnotation(fbn_descriptions, dict(filter_descriptions), pd.concat(rows, ignore_index=True),
                           pd.DataFrame(summaries))
