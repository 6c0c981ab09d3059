"""Imports flow one way (DESIGN.md section 4): cli -> pipeline/demo/config -> report -> analysis/simulate
-> sync -> brain/ann/stimulus -> _validation/_io/exceptions."""

import ast
from pathlib import Path

import pytest

import syncact

LAYER = {
    "exceptions": 0, "_validation": 0, "_io": 0, "distributed": 0,
    "stimulus": 1, "ann": 1, "brain": 1,
    "sync": 2, "rsa": 2,
    "analysis": 3, "simulate": 3, "annotate": 3,
    "report": 4,
    "pipeline": 5, "demo": 6, "config": 5,
    "cli": 7,
}
ROOT = Path(syncact.__file__).parent


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "syncact" and len(parts) > 1 else None


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_higher_layer(path):
    rel = path.relative_to(ROOT)
    own = rel.parts[0].removesuffix(".py")
    if own == "__init__":
        return
    tree = ast.parse(path.read_text())
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue  # annotations only; nothing is imported at run time
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            target = _top(name)
            if target is None or target == own or target not in LAYER:
                continue
            if own == "config" and target in ("ann", "brain", "stimulus", "sync"):
                continue  # config reads the registries to validate names
            assert LAYER[target] <= LAYER[own], f"{rel} imports syncact.{target} (a higher layer)"
