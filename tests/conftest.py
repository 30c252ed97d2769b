"""Session fixtures: the MongoDB server the tests run against.

With ``MONGODB_URI`` set the tests use that server; otherwise one embedded SecantusDB
server is started for the whole session by ``persistence.testing.pytest_plugin`` (free
loopback port, temporary storage, test commands enabled) and stopped at the end.  Every
async test shares one event loop (see setup.cfg), because an ``AsyncMongoClient`` is
bound to the loop it first ran on.

Marks for tests live in ``tests/markers.py`` (importable as ``markers``):
``server_gap(reason)`` is re-exported here for reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from adapters.registry import registry
from markers import EMBEDDED, server_gap
from persistence.registry import Registry

__all__ = ["server_gap"]

# ``mongodb_uri`` (the embedded server, or MONGODB_URI) and the unit-of-work fixtures come
# from the plugin the distribution registers for users (entry point ``persistence``), so
# the project tests itself the way users test their services.


@pytest.fixture
def uow_registry() -> Registry:
    """The reference application's registry, for ``mongo_uow`` and ``memory_uow``."""
    return registry


# --- The server under test ------------------------------------------------------------


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


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every bound the units of work set on their waits for the server (seconds): driver
    deadlines and outage watches."""
    from persistence.mongo.deadlines import outage_watch

    seen: list[float] = []
    timeout = pymongo.timeout

    def recorded(seconds: float | None) -> Any:
        assert seconds is not None
        seen.append(seconds)
        return timeout(seconds)

    monkeypatch.setattr(pymongo, "timeout", recorded)  # what persistence.mongo.deadlines calls
    watch = outage_watch.__init__

    def watched(self: outage_watch, seconds: float, reachable: Any) -> None:
        seen.append(seconds)
        watch(self, seconds, reachable)

    monkeypatch.setattr(outage_watch, "__init__", watched)
    return seen
