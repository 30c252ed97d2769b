"""A pytest plugin to test your own services the way this project tests its own.

Enable it in your ``conftest.py``::

    pytest_plugins = ["persistence.testing.pytest_plugin"]

Fixtures:

``mongodb_uri``
    (session) The URI of a MongoDB server: ``MONGODB_URI`` if set, otherwise an embedded
    SecantusDB server started for the session (a single-node replica set with test
    commands, on a free loopback port, with temporary storage) and stopped at the end.
``async_alias``
    An async MongoEngine alias ``"default"`` on a fresh database of that server, dropped
    after the test.  Yields the ``AsyncDatabase``.  UUIDs are stored as
    ``uuidRepresentation="standard"`` (the :func:`connect_async` default) unless the URI
    chooses another.

Units of work for these (``mongo_uow``, ``memory_uow``) come from the adapters' own
plugin, ``adapters.testing``.

In checked mode (``PERSISTENCE_CHECKED=1``, see ``persistence.engine.checked``) every
test also fails when a fast path gave something else than MongoEngine's own path, even
where the code under test caught the ``FastPathDifference``.

Async tests need ``pytest-asyncio``; the project runs them all on one session-wide event
loop (``asyncio_default_fixture_loop_scope = session`` and
``asyncio_default_test_loop_scope = session``), because an ``AsyncMongoClient`` stays
bound to the loop it first ran on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .embedded_server import EmbeddedServer

__all__ = ["async_alias", "mongodb_uri", "persistence_checked_mode"]


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """``MONGODB_URI``, or the URI of an embedded server started for the session."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    server = EmbeddedServer().start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
async def async_alias(mongodb_uri: str) -> AsyncIterator[Any]:
    """Alias "default" as an async connection to a fresh database (dropped afterwards)."""
    import persistence  # noqa: F401  (activates the async API)
    from persistence.engine import connect_async, disconnect_async

    name = f"test_{uuid.uuid4().hex[:12]}"
    client = await connect_async(name, alias="default", host=mongodb_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await disconnect_async("default")


@pytest.fixture(autouse=True)
def persistence_checked_mode() -> Iterator[None]:
    """In checked mode: fail the test if any fast path differed from MongoEngine."""
    if not _checked_mode():  # (the engine is not imported for that)
        yield
        return
    from persistence.engine import checked

    checked.clear_differences()
    yield
    found = checked.differences()
    checked.clear_differences()
    if found:
        pytest.fail("\n".join(found), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """In checked mode: how many times each fast path was compared with MongoEngine's."""
    if not _checked_mode():
        return
    from persistence.engine import checked

    if checked.ENABLED:
        counts = checked.compared()
        total = sum(counts.values())
        terminalreporter.write_line(f"checked mode: {total} comparisons with MongoEngine's path")
        for name, count in sorted(counts.items()):
            terminalreporter.write_line(f"  {name}: {count}")


def _checked_mode() -> bool:
    """``PERSISTENCE_CHECKED`` as ``persistence.engine.checked`` reads it."""
    return os.environ.get("PERSISTENCE_CHECKED", "") not in ("", "0")
