"""Shared fixtures: a seeded rng, and a tiny embedded dataset built once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_caches(tmp_path_factory):  # noqa: ANN001, ANN202
    """Activation cache and torch hub under tmp: tests never write to the user's caches."""
    root = tmp_path_factory.mktemp("caches")
    saved = {k: os.environ.get(k) for k in ("SYNCACT_CACHE_DIR", "TORCH_HOME")}
    os.environ["SYNCACT_CACHE_DIR"] = str(root / "activations")
    os.environ["TORCH_HOME"] = str(root / "torch")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):  # noqa: ANN001, ANN201
    """5 subjects x 2 runs x 60 volumes of the embedded dataset (real movie, real CNN drivers)."""
    from syncact.simulate import make_dataset

    root = tmp_path_factory.mktemp("tiny") / "bids"
    return make_dataset(root, n_subjects=5, n_runs=2, n_timepoints=60, seed=3)
