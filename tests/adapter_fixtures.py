"""Fixtures that build mongo units of work for the contract suite (server and mongomock)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import mongomock
import pytest

import persistence  # noqa: F401  (activates the async API)
from adapters.mongo import MongoUnitOfWork
from persistence.engine import connect_async, disconnect_async
from persistence.models import registry


@pytest.fixture
async def mongo_uow_factory(mongodb_uri: str) -> AsyncIterator[Callable[[], MongoUnitOfWork]]:
    """Units of work on alias "default", bound to a fresh database on the real server."""
    name = f"c_{uuid.uuid4().hex[:12]}"
    client = await connect_async(name, alias="default", host=mongodb_uri)
    try:
        yield lambda: MongoUnitOfWork(registry, alias="default")
    finally:
        await client.drop_database(name)
        await disconnect_async("default")


@pytest.fixture
async def mongomock_uow_factory() -> AsyncIterator[Callable[[], MongoUnitOfWork]]:
    """Units of work on alias "default", bound to mongomock (no transactions)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    await connect_async(name, alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield lambda: MongoUnitOfWork(registry, alias="default", transactions=False)
    finally:
        await disconnect_async("default")
