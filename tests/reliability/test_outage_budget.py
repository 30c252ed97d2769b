"""Unavailability has its own budget (issue 22, point 4): with the server stopped, a
unit of work's writes and reads end with ``StoreUnavailable`` within the unit's outage
budget, however long its write-conflict budget and the driver's own server selection
timeout; the unit never waits for the server longer than what is left of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pymongo
import pytest

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.engine import connect_async, disconnect_async
from persistence.errors import StoreUnavailable
from persistence.mongo import MongoUnitOfWork
from persistence.retry_policy import RetryPolicy, is_outage
from persistence.testing import EmbeddedServer

ALIAS = "outage"


class SteppingClock:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
async def stopped_server() -> AsyncIterator[EmbeddedServer]:
    """A server the client has talked to, then stopped (the client's own server
    selection timeout left at PyMongo's default, 30 s)."""
    server = EmbeddedServer().start()
    try:
        await connect_async(
            "outage_db", alias=ALIAS, host=server.uri, uuidRepresentation="standard"
        )
        async with MongoUnitOfWork(registry, alias=ALIAS) as uow:
            await uow.users.add(User(name="Ann", email="ann@example.com"))
            await uow.commit()
        server.stop(keep_storage=True)
        yield server
    finally:
        with pymongo.timeout(1):  # closing sends endSessions, which waits for a server
            await disconnect_async(ALIAS)
        server.stop()



async def test_a_write_during_an_outage_ends_within_the_outage_budget(
    stopped_server: EmbeddedServer, waits: list[float]
) -> None:
    attempts: list[BaseException] = []

    def counted_outage(error: BaseException) -> bool:
        attempts.append(error)
        return is_outage(error)

    # every reading of the clock is half a second: 2 s of outage budget is a handful of
    # readings, while the 1000 s conflict budget would allow thousands of retries
    policy = RetryPolicy(
        budget=1000.0,
        outage_budget=2.0,
        base_delay=0.001,
        max_delay=0.001,
        outage=counted_outage,
        clock=SteppingClock(0.5),
    )
    uow = MongoUnitOfWork(registry, alias=ALIAS, retry_policy=policy)

    async def register(uow: Any) -> None:
        await uow.users.add(User(name="Bob", email="bob@example.com"))

    with pytest.raises(StoreUnavailable) as raised:
        await uow.run(register)
    assert raised.value.retry_safe  # nothing was applied
    assert "outage budget, 2 s" in str(raised.value)
    assert 1 <= len(attempts) <= 4  # ended by the outage budget, not the conflict one
    assert all(isinstance(error, StoreUnavailable) for error in attempts)
    assert waits and all(wait <= 2.0 for wait in waits)  # never the driver's 30 s


async def test_a_read_during_an_outage_ends_within_the_outage_budget(
    stopped_server: EmbeddedServer, waits: list[float]
) -> None:
    uow = MongoUnitOfWork(registry, alias=ALIAS, retry_policy=RetryPolicy(outage_budget=1.0))
    async with uow.reading() as reader:
        with pytest.raises(StoreUnavailable) as raised:
            await reader.users.count()
    assert raised.value.retry_safe
    assert waits and all(wait <= 1.0 for wait in waits)  # never the driver's 30 s


async def test_after_the_outage_the_same_unit_works(stopped_server: EmbeddedServer) -> None:
    uow = MongoUnitOfWork(registry, alias=ALIAS, retry_policy=RetryPolicy(outage_budget=1.0))
    with pytest.raises(StoreUnavailable):
        await uow.run(lambda uow: uow.users.add(User(name="Bob", email="bob@example.com")))
    stopped_server.start()
    big = MongoUnitOfWork(registry, alias=ALIAS)  # the default 30 s: rediscovery fits in
    await big.run(lambda uow: uow.users.add(User(name="Bob", email="bob@example.com")))
    async with uow.reading() as reader:
        assert sorted(u.name for u in await reader.users.find()) == ["Ann", "Bob"]
