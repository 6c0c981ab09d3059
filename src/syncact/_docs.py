"""Docstring parameters written once: ``%(name)s`` in a docstring becomes the entry of that name (nilearn's fill_doc).

Only the names below are replaced, so a literal ``%`` elsewhere in a docstring is left alone. Each entry is
the parameter's whole numpydoc block (name line and description), indented as the placeholder is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

DOCS = {
    "executor": """executor : Executor, optional
    Where the units run: in this process (default, ``None`` or ``Executor()``), on a new local Dask
    cluster (``Executor(workers=N)``) or on an existing scheduler (``Executor(scheduler=address)``,
    whose workers see the same paths). The results are the same either way (:mod:`syncact.units`).""",
    "progress": """progress : bool
    Progress bars on the long steps (tqdm; only when the output is a terminal, never in logs or pipes).""",
}


def fill_doc(func: F) -> F:
    """Replace each ``%(name)s`` line of ``func.__doc__`` by the entry ``name`` of :data:`DOCS`, indented alike."""
    doc = func.__doc__
    if not doc:
        return func
    lines = []
    for line in doc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s") and stripped[2:-2] in DOCS:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + entry if entry else entry for entry in DOCS[stripped[2:-2]].split("\n")]
        else:
            lines.append(line)
    func.__doc__ = "\n".join(lines)
    return func
