"""The layer names no aggregate of the reference application and imports nothing of it.

Generic modules: every module of ``persistence`` (the layer, what the wheel installs).
In them, no identifier and no string literal (prose in
docstrings and comments aside) names users, products, authors, books, reviews, shelves,
contracts, posts, comments or accounts (or their entity classes), and no import reaches
the reference application's modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERIC = sorted((ROOT / "persistence").rglob("*.py"))  # the layer: everything the wheel holds
EXAMPLE = re.compile(
    r"\b(users?|products?|authors?|books?|reviews?|shel(f|ves)|contracts?|posts?|comments?"
    r"|accounts?)\b",
    re.IGNORECASE,
)
# MongoEngine's and attrs's own vocabulary that happens to contain one of those words
# (MongoEngine's signals, the queryset attribute that holds ``comment()``'s text, attrs's
# post-init hook).
MONGOENGINE_TERMS = re.compile(
    r"\b(pre|post)_(init|save|save_post_validation|delete|bulk_insert)\b|\b_comment\b"
    r"|\b__attrs_post_init__\b"
)
REFERENCE_APP = ("domain", "adapters")  # the reference service's packages, not in the wheel


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            ids.add(id(node.value))  # attribute docstrings
    return ids


def _names(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            found.append((line, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((line, node.attr))
        elif isinstance(node, ast.arg):
            found.append((line, node.arg))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((line, node.name))
        elif isinstance(node, ast.alias):
            found.append((line, node.asname or node.name))
        elif isinstance(node, ast.keyword) and node.arg:
            found.append((line, node.arg))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            found.append((line, node.value))
    return found


def _imports(tree: ast.AST, module: str) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            out.append(base)
            out += [f"{base}.{alias.name}" for alias in node.names]
    return out


def test_the_generic_modules_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in GENERIC}
    expected = {"persistence/ports.py", "persistence/registry.py", "persistence/unit_of_work.py"}
    assert expected <= names
    assert len(GENERIC) > 30


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_generic_module_names_no_example_aggregate(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = [
        (line, text)
        for line, text in _names(tree)
        if EXAMPLE.search(
            re.sub(r"([a-z])([A-Z])", r"\1 \2", MONGOENGINE_TERMS.sub("", text)).replace("_", " ")
        )
    ]
    assert named == [], f"{path.name} names example aggregates: {named}"


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_generic_module_imports_nothing_of_the_reference_application(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reached = [
        name
        for name in _imports(tree, module)
        if any(name == app or name.startswith(app + ".") for app in REFERENCE_APP)
    ]
    assert reached == [], f"{module} imports the reference application: {reached}"


def test_the_check_sees_a_violation() -> None:
    tree = ast.parse(
        '"""Docstrings may say users."""\nfrom domain.library import Book\nx = "books"\n'
    )
    assert [text for _, text in _names(tree) if EXAMPLE.search(text)] == ["Book", "books"]
    assert "domain.library" in _imports(tree, "persistence.x")
