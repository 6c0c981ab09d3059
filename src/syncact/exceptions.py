"""Error classes of syncact, all in one place.

Each subclasses the built-in exception a caller would expect, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class SyncactError(Exception):
    """Base class of every error raised by syncact on purpose."""


class ConfigError(SyncactError, ValueError):
    """An experiment configuration or a parameter value is invalid."""


class ShapeError(SyncactError, ValueError):
    """An array or image has the wrong number of dimensions or the wrong size."""


class DataError(SyncactError, ValueError):
    """Data values are unusable (NaN, constant voxels, mismatched grids or repetition times)."""


class StimulusError(SyncactError, ValueError):
    """A movie cannot be aligned with the scan (too short, no timestamps, no video stream)."""


class UnknownNameError(SyncactError, ValueError):
    """A model, layer, reducer or method name is not registered."""


class MissingFileError(SyncactError, FileNotFoundError):
    """A file or directory the caller named does not exist."""


class CorruptFileError(SyncactError, OSError):
    """A file exists but cannot be read (truncated, wrong format)."""
