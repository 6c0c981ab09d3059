"""Artificial neural networks: the model zoo, layers, reducers, filter temporal activations and their cache."""

from syncact.ann import zoo  # noqa: F401  (registers the models)
from syncact.ann.cache import ActivationCache, default_cache_dir, frames_digest
from syncact.ann.extract import Activations, extract_activations
from syncact.ann.preprocessing import Preprocessing
from syncact.ann.reducers import REDUCERS, Reducer, get_reducer
from syncact.ann.registry import (
    BuiltModel,
    LayerSpec,
    ModelAdapter,
    available_models,
    custom_model,
    get_model,
    register_model,
)

__all__ = [
    "REDUCERS",
    "ActivationCache",
    "Activations",
    "BuiltModel",
    "LayerSpec",
    "ModelAdapter",
    "Preprocessing",
    "Reducer",
    "available_models",
    "custom_model",
    "default_cache_dir",
    "extract_activations",
    "frames_digest",
    "get_model",
    "get_reducer",
    "register_model",
]
