"""Fixtures for the engine tests: async aliases on the real server and on mongomock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import mongomock
import pytest
from mongoengine import connect, disconnect

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import connect_async, disconnect_async


def _db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db_name() -> str:
    """A fresh database name per test."""
    return _db_name()


@pytest.fixture
async def async_db(mongodb_uri: str, db_name: str) -> AsyncIterator[object]:
    """Alias "default" as an async connection to a fresh database on the server."""
    client = await connect_async(db_name, alias="default", host=mongodb_uri)
    try:
        yield client[db_name]
    finally:
        await client.drop_database(db_name)
        await disconnect_async("default")


@pytest.fixture
async def mongomock_db(db_name: str) -> AsyncIterator[object]:
    """Alias "default" as an async connection to an in-process mongomock database."""
    client = await connect_async(db_name, alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield client[db_name]
    finally:
        await disconnect_async("default")


@pytest.fixture(params=["server", "mongomock"])
def any_async_db(request: pytest.FixtureRequest) -> object:
    """Alias "default" on the server and on mongomock (for behaviour both must share)."""
    fixture = "async_db" if request.param == "server" else "mongomock_db"
    return request.getfixturevalue(fixture)


@pytest.fixture
def sync_db(mongodb_uri: str, db_name: str) -> Iterator[object]:
    """Alias "sync" as a plain sync MongoEngine connection to the same fresh database."""
    client = connect(db_name, alias="sync", host=mongodb_uri, uuidRepresentation="standard")
    try:
        yield client[db_name]
    finally:
        client.drop_database(db_name)
        disconnect("sync")
