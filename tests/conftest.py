"""Shared fixtures: a seeded rng, and a tiny embedded dataset built once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):  # noqa: ANN001, ANN201
    """5 subjects x 2 runs x 60 volumes of the embedded dataset (real movie, real CNN drivers)."""
    from syncact.simulate import make_dataset

    root = tmp_path_factory.mktemp("tiny") / "bids"
    return make_dataset(root, n_subjects=5, n_runs=2, n_timepoints=60, seed=3)
