"""Every ```python block of ``docs/*.md`` runs, page by page, against the test server.

A page's blocks run in order in one namespace (later blocks use earlier names), with
top-level ``await`` allowed and ``MONGODB_URI`` set to the server under test.  Databases
a page creates are dropped afterwards.  ```text blocks are not run, nor ```py blocks
(the files of a service, written and run by tests/packaging/test_wheel_adoption.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pymongo
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
# The gaps page holds standalone PyMongo repros for a server started by hand on port
# 27999; each repro is also a test in tests/server/test_embedded_server.py.
NOT_RUN = {"server-gaps.md"}
PAGES = sorted(
    p
    for p in DOCS.glob("*.md")
    if p.name not in NOT_RUN and BLOCK.search(p.read_text(encoding="utf-8"))
)


def test_every_page_with_examples_is_covered() -> None:
    names = {p.name for p in PAGES}
    assert {"index.md", "engine.md", "transactions.md", "references-and-files.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
async def test_page_examples_run(
    page: Path,
    mongodb_uri: str,
    sync_client: pymongo.MongoClient[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from persistence.engine import disconnect_all_async

    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    before = set(sync_client.list_database_names())
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    try:
        for number, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8"))):
            source = match.group(1)
            code = compile(
                source,
                f"{page.name}[block {number}]",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,  # not this module's `from __future__ import annotations`
            )
            result = eval(code, namespace)  # the project's own docs
            if result is not None:
                await result
    finally:
        await disconnect_all_async()
        for name in set(sync_client.list_database_names()) - before:
            sync_client.drop_database(name)
