"""The emulator's packages import in one direction, with no cycle and no deferred import.

core (host protocol, clock, flow driver) <- stack <- services <- moto_patches <- the facade
(core/emulator.py) <- fixtures, server, demo. An import inside a function that would hold
a cycle open is refused too: every import of the package's own modules is at module level
(imports under `if TYPE_CHECKING:` are types only and do not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "client" / "bluegreen_emulator"
NAME = "bluegreen_emulator"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _targets(module: str, is_package: bool, node: ast.stmt, known: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, ast.ImportFrom):
        base = _resolve(module, is_package, node)
        for alias in node.names:
            child = f"{base}.{alias.name}"
            found.add(child if child in known else base)
    elif isinstance(node, ast.Import):
        found |= {alias.name for alias in node.names}
    return {t for t in found if t == NAME or t.startswith(NAME + ".")}


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import: the module body and its if/try blocks (not TYPE_CHECKING)."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                out += _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            out += _top_level(node.body + handlers + node.orelse + node.finalbody)
        else:
            out.append(node)
    return out


def _imports(path: Path) -> tuple[set[str], list[str]]:
    """(modules of the package imported at run time, deferred imports found)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module, is_package = _module_name(path), path.name == "__init__.py"
    known = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    runtime: set[str] = set()
    for node in _top_level(tree.body):
        runtime |= _targets(module, is_package, node, known)
    deferred = [
        f"{module}:{inner.lineno} imports {sorted(found)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
        and (found := _targets(module, is_package, inner, known))
    ]
    return runtime, deferred


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    graph: dict[str, set[str]] = {}
    deferred: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        imports, late = _imports(path)
        module = _module_name(path)
        # a package's own submodules are loaded through it, not a dependency of it
        graph[module] = {i for i in imports if i != module}
        deferred += late
    return graph, deferred


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state:
                found = visit(child)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


LAYERS = ["core", "stack", "services", "moto_patches", "facade", "top"]


def _layer(module: str) -> int:
    parts = module.split(".")
    if module == f"{NAME}.core.emulator":
        return LAYERS.index("facade")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return LAYERS.index("top")  # the package itself, server, demo, fixtures, __main__


def test_the_emulator_packages_import_each_other_without_a_cycle() -> None:
    # Given every module of the emulator and what it imports at run time
    graph, _ = _graph()
    # Then following imports never comes back to where it started
    assert _cycle(graph) is None


def test_imports_go_one_way_from_the_facade_down_to_core() -> None:
    # Given the layers core < stack < services < moto_patches < facade < the rest
    graph, _ = _graph()
    upward = [
        f"{module} -> {imported}"
        for module, imports in graph.items()
        for imported in imports
        if _layer(imported) > _layer(module) and imported != NAME
    ]
    # Then no module imports one of a layer above its own
    assert upward == []


def test_no_import_of_the_emulator_is_deferred_into_a_function() -> None:
    _, deferred = _graph()
    assert deferred == []


def test_the_check_sees_a_cycle_and_a_deferred_import(tmp_path: Path) -> None:
    # Given two modules importing each other, one of them from inside a function
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from bluegreen_emulator.core import clock\n")
    global PACKAGE  # noqa: PLW0603 - point the reader at the throwaway module
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        _, deferred = _imports(source)
    finally:
        PACKAGE = saved
    # Then the deferred import is named
    assert len(deferred) == 1
    assert deferred[0].endswith("m:2 imports ['bluegreen_emulator.core']")
