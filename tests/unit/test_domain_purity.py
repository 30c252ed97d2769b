"""``domain/`` is pure Python: no MongoEngine, PyMongo, bson, gridfs or adapters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = ("mongoengine", "pymongo", "bson", "gridfs", "adapters", "persistence", "mongomock")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_domain_module_imports_persistence_libraries() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert files, "domain/ has no modules"
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders


def test_importing_domain_loads_none_of_them() -> None:
    code = (
        "import sys, domain, domain.services, persistence.ports;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=DOMAIN.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
