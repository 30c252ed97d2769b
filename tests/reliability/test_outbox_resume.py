"""Where a consumer resumes (issue 24, point 2): from its stored resume token; from its
unfinished records when the server refuses the token; and when the embedded server
takes a token from a history it lost and then stays silent (docs/server-gaps.md), by
noticing the silence and catching up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pymongo
import pytest

import persistence  # noqa: F401
from eventually import HANG_S, until, until_found
from markers import EMBEDDED, server_gap
from persistence.engine import connect_async, disconnect_async, get_async_db
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import Delivery, domain_event
from persistence.outbox.mongo import CONSUMERS, MongoOutbox
from persistence.outbox.names import COMMITS
from persistence.registry import Registry
from persistence.testing import EmbeddedServer

ALIAS = "outbox_resume"


@domain_event("resume.noted")
@attrs.frozen
class Noted:
    n: int


async def _publish(uow: MongoUnitOfWork, n: int) -> None:
    async def block(uow: Any) -> None:
        uow.publish(Noted(n))

    await uow.run(block)


class Seen:
    def __init__(self) -> None:
        self.numbers: list[int] = []

    async def __call__(self, delivery: Delivery) -> None:
        self.numbers.append(delivery.event.n)


@pytest.fixture
async def database(mongodb_uri: str) -> AsyncIterator[Any]:
    name = f"resume_{uuid.uuid4().hex[:10]}"
    client = await connect_async(name, alias=ALIAS, host=mongodb_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await disconnect_async(ALIAS)


async def test_a_refused_resume_token_makes_the_consumer_catch_up(database: Any) -> None:
    uow = MongoUnitOfWork(Registry(), alias=ALIAS)
    outbox = MongoOutbox(ALIAS)
    seen = Seen()
    running = asyncio.create_task(outbox.run("notes", seen))
    try:
        await _publish(uow, 1)
        await until(lambda: seen.numbers == [1], "the first event")

        async def acknowledged() -> bool:  # after the handler returns: not at once
            stored = await database[CONSUMERS].find_one({"_id": "notes"})
            # the token alone is no sign: a stream opened before the commit keeps its
            # starting token before the event comes; the record's mark is
            finished = await database[COMMITS].count_documents({"done": "notes"})
            return stored is not None and stored["token"] is not None and finished == 1

        await until_found(acknowledged, "the first event's record finished, a token kept")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # a token the server refuses (as after its history was lost), then events meanwhile
    await database[CONSUMERS].update_one({"_id": "notes"}, {"$set": {"token": {"_data": "00"}}})
    await _publish(uow, 2)
    await _publish(uow, 3)
    running = asyncio.create_task(outbox.run("notes", seen))
    try:
        await until(lambda: seen.numbers[1:] == [2, 3], "the events after the refused token")
        await _publish(uow, 4)
        await until(lambda: seen.numbers[1:] == [2, 3, 4], "an event after catching up")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


@pytest.mark.skipif(not EMBEDDED, reason="restarts the embedded server")
@server_gap("a resume token from a lost history is taken, and the stream stays silent")
def test_the_server_refuses_a_resume_token_from_a_history_it_lost() -> None:
    server = EmbeddedServer(durable=False).start()
    try:
        client: pymongo.MongoClient[Any]
        with pymongo.MongoClient(server.uri) as client:
            records = client.gaps.records
            with records.watch(max_await_time_ms=100) as stream:
                records.insert_one({"_id": 1})
                token = stream.next()["_id"]
        server.kill()  # not durable: the restarted server has lost its history
        server.start()
        with pymongo.MongoClient(server.uri) as client:
            records = client.gaps.records
            try:
                with records.watch(resume_after=token, max_await_time_ms=100) as stream:
                    records.insert_one({"_id": 2})
                    changes = [stream.try_next() for _ in range(20)]
            except pymongo.errors.OperationFailure:
                return  # MongoDB: ChangeStreamHistoryLost / ChangeStreamFatalError
        assert any(c is not None for c in changes), "the resumed stream stays silent"
    finally:
        server.stop()


@pytest.mark.skipif(not EMBEDDED, reason="restarts the embedded server")
async def test_a_consumer_catches_up_after_a_restart_that_lost_the_servers_history() -> None:
    server = EmbeddedServer(durable=False).start()
    try:
        await connect_async("resume_lost", alias=ALIAS, host=server.uri, heartbeatFrequencyMS=500)
        uow = MongoUnitOfWork(Registry(), alias=ALIAS)
        outbox = MongoOutbox(ALIAS, verify_every=0.5)
        seen = Seen()
        running = asyncio.create_task(outbox.run("notes", seen))
        try:
            await _publish(uow, 1)
            await until(lambda: seen.numbers == [1], "the first event")
            server.kill()
            await asyncio.to_thread(server.start)  # empty: its history is gone
            # a hang guard (docs/server-gaps.md: a server that stopped answering)
            await asyncio.wait_for(_publish(uow, 2), HANG_S)
            await until(lambda: 2 in seen.numbers, f"the event after the restart ({seen.numbers})")
            assert seen.numbers in ([1, 2], [1, 1, 2])  # 1 again if the restart kept it
            consumers = get_async_db(ALIAS)[CONSUMERS]

            async def position_stored_again() -> bool:  # after the handler returns
                stored = await consumers.find_one({"_id": "notes"})
                return stored is not None and stored["token"] is not None

            await until_found(position_stored_again, "the position on the restarted server")
            assert await consumers.count_documents({}) == 1
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        await disconnect_async(ALIAS)
        server.stop()


async def test_a_consumer_creates_the_records_collection_before_watching_it(
    database: Any,
) -> None:
    """On a database with no records yet (a fresh or restarted server), the consumer's
    stream opens on an existing collection: the embedded server once never answered a
    stream opened on a collection the first commit was creating (docs/server-gaps.md)."""
    assert COMMITS not in await database.list_collection_names()
    outbox = MongoOutbox(ALIAS)
    running = asyncio.create_task(outbox.run("notes", Seen()))
    try:

        async def stream_open() -> bool:  # its starting token is saved once it is open
            stored = await database[CONSUMERS].find_one({"_id": "notes"})
            return stored is not None and stored["token"] is not None

        await until_found(stream_open, "the consumer's stream open")
        assert COMMITS in await database.list_collection_names()
        assert await database[COMMITS].count_documents({}) == 0  # no commit created it
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
