"""No import cycle among the project's own modules, read from each module's source (its AST), not by importing it.

Every import counts: at module level, inside functions (lazy) and under `if TYPE_CHECKING:`, since each says
that one module needs another. Importing `a.b.c` needs the packages `a` and `a.b` too, except those the importing
module is itself inside (they are already being imported when it runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("shared", "emulator", "devserver", "bench", "tfschema")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imports_of(name: str, files: dict[str, Path]) -> set[str]:
    """The project modules that `name` imports, with the packages that importing them runs first."""
    path = files[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            named += [module, *(f"{module}.{alias.name}" for alias in node.names)]  # `from pkg import submodule`
    own_parents = set(_parents(name))
    return {
        needed
        for target in named
        if target in files
        for needed in (*_parents(target), target)
        if needed in files and needed != name and needed not in own_parents
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    files = module_files(root, packages)
    return {name: imports_of(name, files) for name in files}


def test_no_import_cycle_in_the_project() -> None:
    graph = import_graph(ROOT, CHECKED)
    assert {"shared.config", "shared.booking.service", "emulator.app"} <= set(graph)
    assert {"shared.config.root", "shared.calendar_client"} <= graph["shared.config"] | graph["shared.config.root"]
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lazy import inside a function closes the loop a -> b -> a
        ({"a.py": "from pkg import b\n", "b.py": "def f():\n    from . import a\n"}, [["pkg.a", "pkg.b"]]),
        # a TYPE_CHECKING import counts; a module-level one into a subpackage runs its __init__ too
        (
            {
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import C\n",
                "sub/__init__.py": "from ..a import A\n",
                "sub/c.py": "C = 1\n",
            },
            [["pkg.a", "pkg.sub"]],
        ),
        # a submodule importing a sibling through its package is no cycle with the package
        ({"sub/__init__.py": "from .c import C\n", "sub/c.py": "from . import d\n", "sub/d.py": ""}, []),
    ],
)
def test_the_cycle_check_finds_cycles(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    for relative, text in {"__init__.py": "", **files}.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert cycles(import_graph(tmp_path, ["pkg"])) == expected
