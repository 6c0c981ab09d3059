"""Artificial neural networks: model registry, layers, and filter temporal activations."""

from syncact.ann.extract import REDUCERS, Activations, extract_activations
from syncact.ann.registry import ModelAdapter, available_models, get_model, register_model

__all__ = [
    "REDUCERS",
    "Activations",
    "ModelAdapter",
    "available_models",
    "extract_activations",
    "get_model",
    "register_model",
]
