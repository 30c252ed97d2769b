"""The layer's pytest plugin: test your own services the way this project tests its own.

Installing the distribution registers it (the ``pytest11`` entry point ``persistence``),
so its fixtures are there in every test of your project; ``-p no:persistence`` switches
it off.  Importing it loads neither MongoEngine nor PyMongo: each fixture imports what it
uses.  Say which registry the units of work use in your ``conftest.py``::

    @pytest.fixture
    def uow_registry() -> Registry:
        return my_app.registry

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

``uow_registry``
    The :class:`~persistence.Registry` the units of work are built from (override it;
    the default refuses with a message saying so).
``mongo_uow``
    A factory of :class:`~persistence.MongoUnitOfWork` on the ``async_alias`` database
    of the server (integration tests).
``memory_uow``
    A factory of :class:`~persistence.InMemoryUnitOfWork` sharing one fresh store (fast
    unit tests: the same service code, no server).
``mongomock_uow``
    A factory of :class:`~persistence.MongoUnitOfWork` on alias ``"default"`` connected
    to a fresh in-process mongomock database (the mongo adapter and the engine without a
    server; no transactions, so a block's writes apply at once, and no file store).  Not
    in the same test as ``async_alias`` or ``mongo_uow``, which connect ``"default"`` too.

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
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

try:  # async fixtures work in pytest-asyncio's strict mode as in its auto mode
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover  (without pytest-asyncio no async test runs)
    _async_fixture = pytest.fixture  # type: ignore[assignment]

if TYPE_CHECKING:
    from persistence.memory import InMemoryUnitOfWork
    from persistence.mongo import MongoUnitOfWork
    from persistence.registry import Registry

__all__ = [
    "async_alias",
    "memory_uow",
    "mongo_uow",
    "mongodb_uri",
    "mongomock_uow",
    "persistence_checked_mode",
    "uow_registry",
]


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """``MONGODB_URI``, or the URI of an embedded server started for the session."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    from persistence.testing.embedded_server import EmbeddedServer

    server = EmbeddedServer().start()
    try:
        yield server.uri
    finally:
        server.stop()


@_async_fixture
async def async_alias(mongodb_uri: str) -> AsyncIterator[Any]:
    """Alias "default" as an async connection to a fresh database (dropped afterwards)."""
    import persistence.engine  # noqa: F401  (activates the async API)
    from persistence.engine import connect_async, disconnect_async

    name = f"test_{uuid.uuid4().hex[:12]}"
    client = await connect_async(name, alias="default", host=mongodb_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await disconnect_async("default")


@pytest.fixture
def uow_registry() -> Registry:
    """The registry of your aggregates: override this fixture in your conftest.py."""
    raise pytest.UsageError(
        "define a `uow_registry` fixture returning your persistence.Registry "
        "to use mongo_uow / memory_uow"
    )


@pytest.fixture
def mongo_uow(async_alias: Any, uow_registry: Registry) -> Callable[[], MongoUnitOfWork]:
    """Makes :class:`MongoUnitOfWork` instances on the test's database."""
    from persistence.mongo import MongoUnitOfWork

    return lambda: MongoUnitOfWork(uow_registry)


@pytest.fixture
def memory_uow(uow_registry: Registry) -> Callable[[], InMemoryUnitOfWork]:
    """Makes :class:`InMemoryUnitOfWork` instances sharing one fresh store."""
    from persistence.memory import InMemoryStore, InMemoryUnitOfWork

    store = InMemoryStore()
    return lambda: InMemoryUnitOfWork(uow_registry, store)


@_async_fixture
async def mongomock_uow(uow_registry: Registry) -> AsyncIterator[Callable[[], MongoUnitOfWork]]:
    """Makes :class:`MongoUnitOfWork` instances on a fresh mongomock database."""
    import mongomock

    import persistence.engine  # noqa: F401  (activates the async API)
    from persistence.engine import connect_async, disconnect_async
    from persistence.mongo import MongoUnitOfWork

    name = f"test_{uuid.uuid4().hex[:12]}"
    await connect_async(name, alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield lambda: MongoUnitOfWork(uow_registry, transactions=False)
    finally:
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
