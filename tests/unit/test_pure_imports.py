"""The pure parts load no storage code: the layer's ports, specs, errors and ids (also
through ``from persistence import ...``) and the reference service's ``domain``, each
imported in a fresh interpreter, leave MongoEngine, PyMongo and BSON out of
``sys.modules``; ``import persistence.engine`` is what activates the async API, once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eventually import HANG_S

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ("mongoengine", "pymongo", "bson", "gridfs", "motor", "mongomock")
PURE = [
    "import persistence",
    "from persistence import F, Order, Page, Change, Aggregation, Sum, Relation",
    "from persistence import DomainError, NotFound, StoreUnavailable, new_id, is_valid_id",
    "from persistence import UnitOfWork, Repository, QueryRepository, FileStore, FileInfo",
    "from persistence import Outbox, Delivery, DeadLetter, domain_event, handle_once",
    "import persistence.errors, persistence.ids, persistence.ports, persistence.specs",
    "import persistence.aggregation, persistence.relations, persistence.schema",
    "import persistence.codec",
    "import persistence.outbox, persistence.outbox.events, persistence.outbox.delivery",
    "import persistence.outbox.recording, persistence.outbox.idempotency, domain.events",
    "import persistence.testing, persistence.testing.pytest_plugin",
    "import domain, domain.entities, domain.library, domain.sales, domain.errors",
    "import domain.services, domain.app_ports",
]


def loaded_after(statement: str) -> list[str]:
    """The storage modules in ``sys.modules`` after ``statement`` in a fresh interpreter."""
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {STORAGE!r})))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout.splitlines()[-1]))


@pytest.mark.parametrize("statement", PURE)
def test_a_pure_part_loads_no_storage_code(statement: str) -> None:
    assert loaded_after(statement) == []


def test_the_check_sees_storage_code() -> None:
    assert "mongoengine" in loaded_after("from persistence import Registry")
    assert "pymongo" in loaded_after("import persistence.engine")


def test_the_engine_line_activates_once() -> None:
    code = (
        "import mongoengine\n"
        "assert not hasattr(mongoengine.Document, 'async_save')\n"
        "import persistence\n"
        "assert not hasattr(mongoengine.Document, 'async_save')\n"
        "import persistence.engine\n"
        "from persistence.engine import graft\n"
        "save = mongoengine.Document.async_save\n"
        "graft.activate()\n"
        "import importlib; importlib.reload(persistence.engine)\n"
        "assert mongoengine.Document.async_save is save\n"
        "from mongoengine import connect_async\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


PURE_LAYER = {
    "persistence",
    "persistence.errors",
    "persistence.ids",
    "persistence.ports",
    "persistence.specs",
    "persistence.aggregation",
    "persistence.relations",
    "persistence.schema",
    "persistence.codec",
}


def test_the_reference_domain_imports_only_pure_code() -> None:
    """Statically too: ``domain/`` imports no storage library, no adapter and, of the
    layer, only its pure modules (so no later import can pull storage code in)."""
    import ast

    offenders = []
    for path in sorted((ROOT / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                top = name.split(".")[0]
                layer = top == "persistence" and name not in PURE_LAYER
                if top in (*STORAGE, "adapters") or layer:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
