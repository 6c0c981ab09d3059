"""Describe CNN filters by what drives them over the movie: classes, low-level features, top frames, user labels.

All describers read the filter's temporal activation over the movie (one value per frame, as paired):

* :func:`class_drivers` - the ImageNet classes whose logits correlate best with the filter over the movie
  (the network's own output vocabulary, a cheap stand-in for Network Dissection's concepts);
* :func:`feature_drivers` - the low-level frame features (brightness, motion, contrast, colourfulness,
  edges; :mod:`syncact.stimulus.features`) that correlate best with it;
* :func:`top_frames` - the frames that drive it most, for pictures (with
  :func:`syncact.ann.probe.feature_maps` to show where in each frame it fires);
* :func:`syncact.annotate.fbns.user_labels` - a CSV of labels (Network Dissection or CLIP-Dissect output).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from syncact.annotate.fbns import rank_terms
from syncact.exceptions import ConfigError, ShapeError
from syncact.sync import pearson_matrix


def _check(filter_activations: np.ndarray, names: Sequence[str], n_rows: int, what: str) -> np.ndarray:
    acts = np.asarray(filter_activations, dtype=np.float64)
    if acts.ndim != 2:
        raise ShapeError(f"filter_activations must be (n_frames, n_filters), got {acts.shape}.")
    if acts.shape[0] != n_rows:
        raise ShapeError(f"filter_activations has {acts.shape[0]} frames but {what} has {n_rows}; give both for the "
                         "same frames.")
    if len(names) != acts.shape[1]:
        raise ConfigError(f"got {len(names)} filter names for {acts.shape[1]} filters.")
    return acts


def class_drivers(filter_activations: np.ndarray, logits: np.ndarray, categories: Sequence[str],
                  names: Sequence[str], *, top: int = 3, source: str = "imagenet classes") -> pd.DataFrame:
    """The classes whose scores rise and fall with each filter over the movie.

    Parameters
    ----------
    filter_activations : ndarray of shape (n_frames, n_filters)
    logits : ndarray of shape (n_frames, n_classes)
        The network's class scores on the same frames (:func:`syncact.ann.probe.class_logits`).
    categories : sequence of str, length n_classes
    names : sequence of str, length n_filters
    top : int, default=3

    Returns
    -------
    DataFrame
        Description rows (``unit, source, rank, term, score``); score = Pearson r over the frames.
    """
    logits = np.asarray(logits, dtype=np.float64)
    acts = _check(filter_activations, names, logits.shape[0], "logits")
    if logits.ndim != 2 or logits.shape[1] != len(categories):
        raise ShapeError(f"logits must be (n_frames, {len(categories)}) for {len(categories)} categories, got {logits.shape}.")
    r = pearson_matrix(acts, logits, constant="nan")  # (F, C)
    return rank_terms(r, list(categories), source, names, top)


def feature_drivers(filter_activations: np.ndarray, features: pd.DataFrame, names: Sequence[str], *,
                    top: int = 2) -> pd.DataFrame:
    """The low-level frame features that track each filter.

    Parameters
    ----------
    filter_activations : ndarray of shape (n_frames, n_filters)
    features : DataFrame of shape (n_frames, n_features)
        :func:`syncact.stimulus.features.frame_features` of the frames the activations were computed on
        (computed once, shared by every model and layer).
    names : sequence of str, length n_filters
    top : int, default=2

    Returns
    -------
    DataFrame
        Description rows; only positive correlations are kept (a filter that fires on dark frames is not
        described as "brightness").
    """
    acts = _check(filter_activations, names, len(features), "features")
    r = pearson_matrix(acts, features.to_numpy(dtype=np.float64), constant="nan")
    r[r <= 0] = np.nan
    return rank_terms(r, list(features.columns), "frame features", names, top)


def top_frames(filter_activations: np.ndarray, filter_index: Sequence[int], *, k: int = 4,
               min_gap: int = 0) -> np.ndarray:
    """The ``k`` frames with the highest activation of each chosen filter, best first.

    Parameters
    ----------
    filter_activations : ndarray of shape (n_frames, n_filters)
    filter_index : sequence of int
    k : int, default=4
    min_gap : int, default=0
        Frames closer than this to a better one are skipped (neighbouring TRs often show the same shot).

    Returns
    -------
    ndarray of int, shape (len(filter_index), k)
        Frame indices; -1 where fewer than ``k`` frames qualify.
    """
    acts = np.asarray(filter_activations)
    out = np.full((len(filter_index), k), -1, dtype=int)
    for row, f in enumerate(filter_index):
        chosen: list[int] = []
        for t in np.argsort(-acts[:, f], kind="stable"):
            if all(abs(int(t) - c) > min_gap for c in chosen):
                chosen.append(int(t))
            if len(chosen) == k:
                break
        out[row, : len(chosen)] = chosen
    return out
