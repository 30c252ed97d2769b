"""The engine's modules import one another without cycles; the compatibility module is a
leaf and the alias registry imports nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import persistence.engine

ENGINE = Path(persistence.engine.__file__).parent


def _engine_imports(path: Path) -> set[str]:
    """Engine modules ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "persistence.engine."
        ):
            found.add(node.module.split(".")[2])  # type: ignore[union-attr]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    return {name: _engine_imports(path) & set(modules) for name, path in modules.items()}


def test_no_import_cycle_between_engine_modules() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_the_alias_registry_is_a_leaf() -> None:
    assert _graph()["aliases"] <= {"compat"}  # the compatibility module only


def test_the_compatibility_module_is_a_leaf() -> None:
    assert _graph()["compat"] == set()


def test_no_module_shadows_the_standard_library() -> None:
    import sys

    assert not {p.stem for p in ENGINE.glob("*.py")} & set(sys.stdlib_module_names)
