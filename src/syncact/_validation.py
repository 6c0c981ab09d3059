"""Every input check of syncact and its message.

Messages name the argument or file, what was expected, what was given, and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from syncact.exceptions import (
    ConfigError,
    DataError,
    MissingFileError,
    ShapeError,
    UnknownNameError,
)


def check_file(path: str | Path, what: str, *, hint: str = "") -> Path:
    """Return ``path`` as a Path, raising MissingFileError if it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        kind = "a directory, not a file" if path.is_dir() else "missing"
        fix = f" {hint}" if hint else " Check the path (relative paths are taken from the current directory)."
        raise MissingFileError(f"{what} {str(path)!r} is {kind}.{fix}")
    return path


def close_matches(value: str, choices: Iterable[str], n: int = 3) -> str:
    """A " Did you mean ...?" sentence for ``value`` among ``choices`` (empty when nothing is close)."""
    found = difflib.get_close_matches(str(value), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean {', '.join(repr(f) for f in found)}?" if found else ""


def check_output_dir(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, raising ConfigError when it exists and is not a directory (nothing is created)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a file, not a folder; choose a folder (new or one this command "
                          "wrote) and nothing existing is touched.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{what} {str(path)!r} lies under {str(parent)!r}, which is a file; choose another folder.")
            break
    return path


def check_level(name: str, value: float) -> float:
    """Raise ConfigError unless ``value`` is a probability strictly between 0 and 1 (a level or an alpha)."""
    check_positive(name, value)
    if not 0 < value < 1:
        raise ConfigError(f"{name} must lie in (0, 1) (e.g. 0.05 or 0.95), got {value!r}.")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Raise UnknownNameError unless ``value`` is one of ``choices`` (naming the close matches)."""
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        hint = close_matches(value, choices) if isinstance(value, str) else ""
        raise UnknownNameError(f"{name}={value!r} is not known.{hint} Choose one of: {listed}.")
    return value


def check_positive(name: str, value: float, *, integer: bool = False, allow_zero: bool = False) -> float:
    """Raise ConfigError unless ``value`` is a (strictly) positive number (an int if ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    if integer and int(value) != value:
        raise ConfigError(f"{name} must be an integer, got {value!r}.")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound}, got {value!r}.")
    return value


def check_fractions(name: str, fractions: Sequence[float], n: int) -> tuple[float, ...]:
    """Check ``n`` non-negative fractions that sum to 1."""
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != n or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"{name} must be {n} non-negative fractions summing to 1, got {fractions}.")
    return fractions


def check_2d(name: str, array: Any, *, dtype: type | None = np.float64) -> np.ndarray:
    """Return ``array`` as a 2D finite array of ``dtype``, or raise ShapeError / DataError."""
    array = np.asarray(array, dtype=dtype)
    if array.ndim != 2:
        raise ShapeError(f"{name} must be 2D (n_timepoints, n_features), got shape {array.shape}.")
    if array.shape[0] < 3 or array.shape[1] < 1:
        raise ShapeError(f"{name} needs at least 3 time points and 1 column, got shape {array.shape}.")
    check_finite(name, array)
    return array


def check_finite(name: str, array: np.ndarray, *, fix: str = "remove or interpolate them first") -> None:
    """Raise DataError naming how many values of ``array`` are NaN or infinite."""
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(f"{name} has {int(bad.sum())} NaN or infinite values; {fix}.")


def check_same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ShapeError unless ``a`` and ``b`` have the same number of rows (time points)."""
    if a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"{name_a} has {a.shape[0]} time points but {name_b} has {b.shape[0]}; "
            "both must be sampled at the same fMRI time points (check the movie offset and the number of TRs)."
        )


def check_not_constant(name: str, array: np.ndarray, axis: int = 0, *, fix: str) -> None:
    """Raise DataError if any column of ``array`` is constant along ``axis``."""
    std = array.std(axis=axis)
    constant = np.flatnonzero(std == 0)
    if constant.size:
        listed = ", ".join(map(str, constant[:10])) + (", ..." if constant.size > 10 else "")
        raise DataError(f"{name} has {constant.size} constant column(s) with zero variance (column {listed}); {fix}.")


def check_tr_agree(source: str, tr_header: float, tr_sidecar: float, *, rtol: float = 1e-3) -> float:
    """Raise DataError if the header and the JSON sidecar disagree on the repetition time."""
    if not np.isclose(tr_header, tr_sidecar, rtol=rtol):
        raise DataError(
            f"{source}: the NIfTI header says TR={tr_header:g} s but the JSON sidecar says "
            f"RepetitionTime={tr_sidecar:g} s; fix whichever is wrong (the header's pixdim[4] or the sidecar)."
        )
    return float(tr_sidecar)
