"""Fixtures that build mongo units of work for the contract suite (server and mongomock).

``mongo_backend`` / ``mongomock_backend`` give a function making a unit of work over any
registry on a fresh database; ``*_uow_factory`` are the same for the reference
application's registry.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import mongomock
import pytest

import persistence.engine  # noqa: F401  (activates the async API)
from adapters.registry import registry
from persistence.engine import connect_async, disconnect_async
from persistence.mongo import MongoUnitOfWork
from persistence.registry import Registry

MakeUow = Callable[[Registry], MongoUnitOfWork]


@pytest.fixture
async def mongo_backend(mongodb_uri: str) -> AsyncIterator[MakeUow]:
    """Units of work on alias "default", bound to a fresh database on the real server."""
    name = f"c_{uuid.uuid4().hex[:12]}"
    client = await connect_async(name, alias="default", host=mongodb_uri)
    try:
        yield lambda registry: MongoUnitOfWork(registry)
    finally:
        await client.drop_database(name)
        await disconnect_async("default")


@pytest.fixture
async def mongomock_backend() -> AsyncIterator[MakeUow]:
    """Units of work on alias "default", bound to mongomock (no transactions)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    await connect_async(name, alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield lambda registry: MongoUnitOfWork(registry, transactions=False)
    finally:
        await disconnect_async("default")


@pytest.fixture
def mongo_uow_factory(mongo_backend: MakeUow) -> Callable[[], MongoUnitOfWork]:
    """The reference application's units of work on the real server."""
    return lambda: mongo_backend(registry)


@pytest.fixture
def mongomock_uow_factory(mongomock_backend: MakeUow) -> Callable[[], MongoUnitOfWork]:
    """The reference application's units of work on mongomock."""
    return lambda: mongomock_backend(registry)
