"""The import graph: imports flow one way between the rooms (docs/architecture.md), with no cycle.

Every import counts: at module level, inside functions, and under ``TYPE_CHECKING`` (an annotation that
needs a higher room is a design that leans on it).
"""

import ast
from pathlib import Path

import pytest

import syncact

LAYER = {
    "exceptions": 0, "_validation": 0, "_io": 0, "_docs": 0, "units": 0,
    "stimulus": 1, "ann": 1, "brain": 1, "networks": 1,
    "sync": 2, "rsa": 2,
    "analysis": 3, "simulate": 3, "annotate": 3, "encoding": 3,
    "report": 4,
    "config": 5,
    "experiment": 6,
    "demo": 7,
    "cli": 8,
}
# inside the experiment package, bottom to top (a module may import those at its level or below)
EXPERIMENT = {"provenance": 0, "findings": 0, "layout": 0, "result": 1, "units": 1, "methods": 2, "stages": 2, "pairing": 2, "truth": 3,
              "annotation": 3, "encoding": 3, "sweep": 3, "cards": 3, "report": 4, "run": 5}
ROOT = Path(syncact.__file__).parent
MODULES = sorted(ROOT.rglob("*.py"))
MAX_LINES = 450
LONGER = {  # modules over MAX_LINES, each with the reason given in docs/architecture.md
    "networks/embedding.py", "brain/prepare.py", "cli.py", "config.py", "rsa/searchlight.py",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    """Every syncact module a file imports (absolute names), wherever the import statement sits."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]  # `from pkg import module`
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n.split(".")[0] == "syncact"]


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_higher_layer(path):
    rel = path.relative_to(ROOT)
    own = rel.parts[0].removesuffix(".py")
    if own == "__init__":
        return
    assert own in LAYER, f"{rel}: a new room; give it a layer here and in docs/architecture.md"
    for name in _imports(path):
        target = _top(name)
        if target is None or target not in LAYER or target == own:
            continue
        assert LAYER[target] <= LAYER[own], f"{rel} imports {name} (a higher layer)"
    if own == "experiment" and rel.stem in EXPERIMENT:
        rooms = [(name, _experiment_room(name)) for name in _imports(path)]
        higher = [name for name, room in rooms if room is not None and EXPERIMENT[room] > EXPERIMENT[rel.stem]]
        assert not higher, f"{rel} imports {higher} (higher in the experiment package)"


def _experiment_room(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "experiment" and parts[2] in EXPERIMENT else None


def test_the_module_graph_has_no_cycle():
    known = {_module_name(p): p for p in MODULES}
    graph = {}
    for name, path in known.items():
        graph[name] = set()
        for target in _imports(path):
            while target and target not in known:  # `from syncact.brain import X` -> the package syncact.brain
                target = target.rpartition(".")[0]
            if target and target != name and not (path.name == "__init__.py" and target.startswith(name + ".")):
                graph[name].add(target)  # a package's __init__ re-exporting its own modules is not a cycle
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_modules_stay_short():
    long = {str(p.relative_to(ROOT)) for p in MODULES if len(p.read_text().splitlines()) > MAX_LINES}
    assert long <= LONGER, f"over {MAX_LINES} lines without a reason in docs/architecture.md: {sorted(long - LONGER)}"
    assert LONGER <= long, f"now short, drop from LONGER: {sorted(LONGER - long)}"
    text = (ROOT.parents[1] / "docs" / "architecture.md").read_text()
    for rel in LONGER:
        assert f"`{rel}`" in text, f"docs/architecture.md gives no reason for the length of {rel}"
