"""A pytest plugin giving units of work over your registry, on both adapters.

Enable it beside the server plugin in your ``conftest.py`` and say which registry to
use::

    pytest_plugins = ["persistence.testing.pytest_plugin", "adapters.testing"]

    @pytest.fixture
    def uow_registry() -> Registry:
        return my_app.registry

Fixtures:

``uow_registry``
    The :class:`~persistence.registry.Registry` the units of work are built from
    (override it; the default refuses with a message saying so).
``mongo_uow``
    A factory of :class:`~adapters.mongo.MongoUnitOfWork` on the ``async_alias``
    database of the server (integration tests).
``memory_uow``
    A factory of :class:`~adapters.memory.InMemoryUnitOfWork` sharing one fresh store
    (fast unit tests: the same service code, no server).
``mongomock_uow``
    A factory of :class:`~adapters.mongo.MongoUnitOfWork` on alias ``"default"``
    connected to a fresh in-process mongomock database (the mongo adapter and the
    engine without a server; no transactions, so a block's writes apply at once, and
    no file store).  Not in the same test as ``async_alias`` or ``mongo_uow``, which
    connect ``"default"`` too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from persistence.registry import Registry

from .memory import InMemoryStore, InMemoryUnitOfWork
from .mongo import MongoUnitOfWork

__all__ = ["memory_uow", "mongo_uow", "mongomock_uow", "uow_registry"]


@pytest.fixture
def uow_registry() -> Registry:
    """The registry of your aggregates: override this fixture in your conftest.py."""
    raise pytest.UsageError(
        "define a `uow_registry` fixture returning your persistence.registry.Registry "
        "to use mongo_uow / memory_uow"
    )


@pytest.fixture
def mongo_uow(async_alias: Any, uow_registry: Registry) -> Callable[[], MongoUnitOfWork]:
    """Makes :class:`MongoUnitOfWork` instances on the test's database."""
    return lambda: MongoUnitOfWork(uow_registry)


@pytest.fixture
def memory_uow(uow_registry: Registry) -> Callable[[], InMemoryUnitOfWork]:
    """Makes :class:`InMemoryUnitOfWork` instances sharing one fresh store."""
    store = InMemoryStore()
    return lambda: InMemoryUnitOfWork(uow_registry, store)


@pytest.fixture
async def mongomock_uow(uow_registry: Registry) -> AsyncIterator[Callable[[], MongoUnitOfWork]]:
    """Makes :class:`MongoUnitOfWork` instances on a fresh mongomock database."""
    import mongomock

    import persistence  # noqa: F401  (activates the async API)
    from persistence.engine import connect_async, disconnect_async

    name = f"test_{uuid.uuid4().hex[:12]}"
    await connect_async(name, alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield lambda: MongoUnitOfWork(uow_registry, transactions=False)
    finally:
        await disconnect_async("default")
