"""Layers point one way: no module imports a layer above its own, and there is no import cycle.

Every import counts: module level, inside functions (deferred) and under ``TYPE_CHECKING``.
The layers, bottom to top, are the pipeline's stages (README, "Layout"). ``ALLOWED`` lists
known violations; it may only shrink (an entry that no longer occurs fails the test too).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"

#: Bottom to top. A module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("workbench.errors", "workbench._util", "workbench.version")),
    ("prompt", ("workbench.prompt",)),
    ("config", ("workbench.config",)),
    ("providers, store, media", ("workbench.providers", "workbench.store", "workbench.media")),
    ("run folder", ("workbench.rundir",)),
    ("generation, analysis", ("workbench.generate", "workbench.analysis", "workbench.metrics")),
    ("outputs", ("workbench.outputs",)),
    ("report", ("workbench.report",)),
    ("pipeline", ("workbench.validate", "workbench.pipeline")),
    ("front ends", ("workbench.ui", "workbench.batch", "workbench.cli", "workbench.__main__", "workbench")),
]

#: Siblings in one layer that must stay independent of each other.
INDEPENDENT = [("workbench.generate", ("workbench.analysis", "workbench.metrics"))]
#: Pure kernels: numpy maths that import nothing of the workbench but errors and utilities.
KERNELS = "workbench.metrics.kernels"
KERNEL_MAY_IMPORT = ("workbench.errors", "workbench._util")

#: Known violations (importer, imported). Only shrinks.
ALLOWED: set[tuple[str, str]] = set()
#: Known import cycles (sorted module lists). Only shrinks.
ALLOWED_CYCLES: list[list[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The workbench module an imported dotted name lives in (longest existing prefix)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            return cand
        parts = parts[:-1]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the workbench modules it imports (every import statement anywhere in it)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                names = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
            for n in names:
                if not n.startswith("workbench"):
                    continue
                target = _resolve(n, modules)
                if target is not None and target != mod:
                    graph[mod].add(target)
        graph.setdefault(mod, set())
    return dict(graph)


def layer_of(mod: str) -> int:
    best, best_len = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best_len and (p != "workbench" or mod == p):
                best, best_len = i, len(p)
    assert best >= 0, f"{mod} belongs to no layer: add it to LAYERS"
    return best


def _under(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    out = set()
    for a, targets in graph.items():
        for b in targets:
            if layer_of(b) > layer_of(a):
                out.add((a, b))
            for one, others in INDEPENDENT:
                if (_under(a, one) and any(_under(b, o) for o in others)) or (
                    _under(b, one) and any(_under(a, o) for o in others)
                ):
                    out.add((a, b))
            if _under(a, KERNELS) and not _under(b, KERNELS) and not any(_under(b, k) for k in KERNEL_MAY_IMPORT):
                out.add((a, b))
            if _under(b, "workbench.pipeline") and layer_of(a) < len(LAYERS) - 1 and not _under(a, "workbench.pipeline"):
                out.add((a, b))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer() -> None:
    for mod in import_graph():
        layer_of(mod)


def test_no_import_points_up_a_layer() -> None:
    found = violations(import_graph())
    new = sorted(found - ALLOWED)
    assert not new, "imports that point up a layer (or break a sibling/kernel rule):\n" + "\n".join(
        f"  {a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})" for a, b in new
    )
    stale = sorted(ALLOWED - found)
    assert not stale, "allow-listed violations that are gone: remove them from ALLOWED:\n" + "\n".join(map(str, stale))


def test_there_is_no_import_cycle() -> None:
    found = [c for c in cycles(import_graph()) if c not in ALLOWED_CYCLES]
    assert not found, "import cycles:\n" + "\n".join("  " + " <-> ".join(c) for c in found)


if __name__ == "__main__":  # print the graph: python tests/test_layers.py
    g = import_graph()
    for name, _ in LAYERS:
        mods = sorted(m for m in g if LAYERS[layer_of(m)][0] == name)
        print(f"[{name}]")
        for m in mods:
            print(f"  {m} -> {', '.join(sorted(g[m])) or '-'}")
