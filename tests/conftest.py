"""Session fixtures: the MongoDB server the tests run against.

With ``MONGODB_URI`` set the tests use that server; otherwise one embedded SecantusDB
server is started for the whole session (free loopback port, temporary storage, test
commands enabled) and stopped at the end.  Every async test shares one event loop (see
setup.cfg), because an ``AsyncMongoClient`` is bound to the loop it first ran on.

Marks for tests live in ``tests/markers.py`` (importable as ``markers``):
``server_gap(reason)`` is re-exported here for reference.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from markers import EMBEDDED, server_gap
from persistence.testing import EmbeddedServer

__all__ = ["server_gap"]


# --- The server under test ------------------------------------------------------------


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedServer | None]:
    """The embedded server started for this session (None with ``MONGODB_URI``)."""
    if not EMBEDDED:
        yield None
        return
    server = EmbeddedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongodb_uri(embedded_server: EmbeddedServer | None) -> str:
    """The URI of the server under test."""
    return embedded_server.uri if embedded_server is not None else os.environ["MONGODB_URI"]


@pytest.fixture(scope="session")
def embedded_server_in_use() -> bool:
    """True when the tests run on the embedded server, False with ``MONGODB_URI``."""
    return EMBEDDED


# --- Clients ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sync_client(mongodb_uri: str) -> Iterator[pymongo.MongoClient[Any]]:
    """A plain PyMongo client on the server under test."""
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(mongodb_uri)
    try:
        yield client
    finally:
        client.close()


# --- Shared fixtures added by other test packages go below ------------------------------
