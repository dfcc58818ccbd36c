"""The package is a one-way house: read from the import statements (every one, including those
inside functions), each first-level unit imports only from its own layer or the layers below,
and no two units import each other, directly or around a loop.

The layers are the README's "Architecture" section; a new first-level unit must be placed here.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "avlocate"

#: first-level unit -> layer (bottom = 0); a unit may import from its own layer or below
LAYERS: dict[str, int] = {
    # 0 core types: no avlocate imports but each other
    "errors": 0, "timeline": 0, "results": 0, "registry": 0, "allocator": 0, "accounting": 0,
    # 1 reading media, making synthetic videos
    "media": 1, "synth": 1,
    # 2 the weights store (safetensors, cards, manifest, downloads); the data sets (formats, and
    # `datasets pull`, which downloads with the weights' downloaders)
    "weights": 2, "datasets": 2,
    # 3 frozen feature extractors and the feature store
    "features": 3,
    # 4 localization heads, their decoding, zero-shot scoring
    "heads": 4, "decode": 4, "zeroshot": 4,
    # 5 the built-in registrations (loaded by the registry on first use)
    "builtins": 5,
    # 6 the model and the one-video pipeline
    "pipeline": 6,
    # 7 runners and the extract / train / evaluate logic
    "runners": 7, "extraction": 7, "training": 7, "metrics": 7,
    # 8 outputs
    "outputs": 8,
    # 9 the command line
    "cli": 9, "__main__": 9,
}
#: the one accepted upward edge: the registry imports the built-ins lazily, on first lookup
ACCEPTED = {("registry", "builtins")}
MAX_TOP_LEVEL_MODULES = 10


def _units(package: Path = PACKAGE) -> set[str]:
    units = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return units


def _module_of(path: Path, package: Path) -> tuple[list[str], bool]:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _imported(path: Path, root: Path) -> list[tuple[str, int]]:
    """The avlocate modules ``path`` imports (absolute names), with their line numbers."""
    parts, is_pkg = _module_of(path, root)
    package = parts if is_pkg else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            # `from avlocate import x` / `from . import x`: x may be a unit itself
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] == "avlocate"]


def unit_edges(package: Path = PACKAGE) -> dict[tuple[str, str], list[str]]:
    units = _units(package)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(package.rglob("*.py")):
        parts, _ = _module_of(path, package)
        if len(parts) < 2:
            continue  # avlocate/__init__.py: the public surface, imports lazily
        source = parts[1]
        for name, line in _imported(path, package):
            target = name.split(".")[1] if "." in name else None
            if target in units and target != source:
                edges[(source, target)].append(f"{path.relative_to(package.parent)}:{line}")
    return edges


def test_every_unit_has_a_layer():
    missing = sorted(_units() - set(LAYERS))
    assert not missing, f"place these first-level units in LAYERS (and the README's Architecture): {missing}"


def test_few_top_level_modules():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def upward(edges: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], list[str]]:
    return {edge: where for edge, where in edges.items()
            if edge not in ACCEPTED and LAYERS.get(edge[1], 99) > LAYERS.get(edge[0], -1)}


def test_no_upward_import():
    upward_edges = upward(unit_edges())
    assert not upward_edges, "imports that go up a layer: " + "; ".join(
        f"{a} -> {b} ({', '.join(where[:3])})" for (a, b), where in sorted(upward_edges.items()))


def test_no_cycle_between_units():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in unit_edges():
        if (a, b) not in ACCEPTED:
            graph[a].add(b)
    # Tarjan's strongly connected components: any component of two or more units is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(set(graph) | {b for bs in graph.values() for b in bs}):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles between first-level units: {cycles}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The check itself can fail: a media module importing the CLI is caught."""
    fake = tmp_path / "avlocate"
    for unit in ("media", "cli"):
        (fake / unit).mkdir(parents=True)
        (fake / unit / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "media" / "probe.py").write_text("def f():\n    from ..cli import main\n")
    assert set(upward(unit_edges(fake))) == {("media", "cli")}


def test_the_readme_names_every_unit():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    missing = sorted(u for u in _units() - {"__main__"} if f"`{u}" not in section)
    assert not missing, f"the README's Architecture section does not mention {missing}"
