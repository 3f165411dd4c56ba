"""The import rule of docs/design.md, read from the source with `ast`: no cycles (type-only
imports included) and no edge the layering forbids; and no module over 300 lines (R1)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

PACKAGE: Final = Path(__file__).resolve().parent.parent / "scsd"
MAX_LINES: Final = 300

# The layers below the front ends, as module prefixes.
CORE: Final = (
    "scsd",  # the package itself: `__version__` only
    "scsd.model",
    "scsd.errors",
    "scsd.config",
    "scsd.access",
    "scsd.process",
    "scsd.store",
    "scsd.realtime.changes",
    "scsd.realtime.watcher",
    "scsd.realtime.inbox",
    "scsd.realtime.hub",
    "scsd.realtime.presence",
    "scsd.realtime.composing",
)
FRONT_ENDS: Final = ("scsd.realtime.ws", "scsd.realtime.sse", "scsd.mcp", "scsd.httpd", "scsd.ui")
# Which of our modules each layer may import (besides its own package's modules).
ALLOWED: Final[dict[str, tuple[str, ...]]] = {
    "scsd.model": (),
    "scsd.errors": (),
    "scsd.config": ("scsd.model", "scsd.errors"),
    "scsd.access": ("scsd.model", "scsd.errors"),
    "scsd.process": ("scsd.model", "scsd.errors", "scsd.config"),
    "scsd.store": ("scsd.model", "scsd.errors", "scsd.access"),
    "scsd.realtime": ("scsd.model", "scsd.errors", "scsd.access", "scsd.store"),
    **{front: CORE for front in FRONT_ENDS},
    "scsd.assemble": (*CORE, *FRONT_ENDS),
    "scsd.daemon": (*CORE, *FRONT_ENDS, "scsd.assemble"),
    "scsd.cli": (*CORE, *FRONT_ENDS, "scsd.assemble", "scsd.daemon"),
    "scsd.__main__": ("scsd.cli",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> Iterator[str]:
    """The modules of ours `path` imports: `from pkg import sub` counts as `pkg.sub` when
    `sub` is a module, as Python resolves it."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "scsd")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "scsd":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if sub in known else node.module


def layer(module: str) -> str:
    """The most specific key of ALLOWED that `module` belongs to."""
    matches = [key for key in ALLOWED if module == key or module.startswith(key + ".")]
    assert matches, f"{module} belongs to no layer of the import rule; add it to ALLOWED"
    return max(matches, key=len)


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imports(path, known)) - {name} for name, path in found.items()}


def test_no_forbidden_import_edges() -> None:
    bad = []
    for source, targets in sorted(graph().items()):
        if source == "scsd":
            continue
        own = layer(source)
        for target in sorted(targets):
            if target == "scsd" or within(target, (own,)) or within(target, ALLOWED[own]):
                continue
            if own.startswith("scsd.realtime") and own not in FRONT_ENDS and within(target, CORE):
                continue  # realtime's core: its own modules and the layers below
            bad.append(
                f"{source} -> {target} (layer {own} may import {', '.join(ALLOWED[own]) or 'nothing'})"
            )
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_front_ends_never_import_each_other() -> None:
    bad = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        for front in FRONT_ENDS
        if within(source, (front,)) and within(target, FRONT_ENDS) and not within(target, (front,))
    ]
    assert not bad, "front ends importing each other:\n" + "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = [sorted(c) for c in _strongly_connected(edges) if len(c) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_nothing_imports_cli() -> None:
    bad = [f"{s} -> {t}" for s, ts in graph().items() for t in ts if within(t, ("scsd.cli",))]
    assert all(s.startswith(("scsd.cli", "scsd.__main__")) for s in (b.split(" -> ")[0] for b in bad)), bad


def test_modules_stay_within_the_size_cap() -> None:
    long = {name: n for name, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split along a seam): {long}"


def test_the_rule_fails_on_a_cycle_and_a_forbidden_edge() -> None:
    # The checks themselves must be able to fail.
    assert [sorted(c) for c in _strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) if len(c) > 1] == [
        ["a", "b"]
    ]
    assert layer("scsd.realtime.ws.wire") == "scsd.realtime.ws"
    assert not within("scsd.mcp.server", ALLOWED[layer("scsd.store.messages")])


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components
