"""Network errors injected by the server (``failCommand``), timeouts, an unreachable
server, cancellation of many in-flight tasks."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from typing import Any

import pymongo
import pytest
from mongoengine import Document, IntField, StringField
from pymongo.errors import (
    AutoReconnect,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from eventually import HANG_S, until
from persistence.engine import (
    async_run_in_transaction,
    connect_async,
    disconnect_async,
)
from persistence.engine.bridge import live_bridge_greenlets
from persistence.engine.transactions import open_transaction_sessions
from persistence.mongo import MongoUnitOfWork
from persistence.retry_policy import is_retryable
from persistence.testing import async_fail_point

ONCE = {"times": 1}


class Counter(Document):
    name = StringField(required=True)
    n = IntField(default=0)


def _close(*commands: str) -> dict[str, Any]:
    return {"failCommands": list(commands), "closeConnection": True}


async def test_retryable_writes_succeed_exactly_once(client: Any) -> None:
    counter = await Counter(name="c").async_save()  # the collection exists
    async with async_fail_point(client, mode=ONCE, data=_close("insert")):
        await Counter(name="d").async_save()
    async with async_fail_point(client, mode=ONCE, data=_close("update")):
        await Counter.objects(id=counter.id).async_update_one(inc__n=1)
    db = client.get_database(Counter._get_db().name)
    assert await db["counter"].count_documents({"name": "d"}) == 1  # no duplicate
    assert (await db["counter"].find_one({"_id": counter.id}))["n"] == 1  # incremented once


async def test_without_retryable_writes_the_error_surfaces_and_a_retry_works(
    mongodb_uri: str,
) -> None:
    name = f"f_{uuid.uuid4().hex[:12]}"
    client = await connect_async(name, alias="default", host=mongodb_uri, retryWrites=False)
    try:
        await Counter(name="first").async_save()
        async with async_fail_point(client, mode=ONCE, data=_close("insert")):
            doc = Counter(name="second")
            with pytest.raises(AutoReconnect):
                await doc.async_save()
            await doc.async_save()  # the caller's retry
        names = sorted([d["name"] async for d in client[name]["counter"].find()])
        assert names == ["first", "second"]
    finally:
        await client.drop_database(name)
        await disconnect_async("default")


async def test_a_unit_of_work_reruns_its_block_once_after_a_network_error(client: Any) -> None:
    runs = []

    async def register(uow: Any) -> None:
        runs.append(1)
        await uow.users.add(User(name="Ann", email="ann@example.com"))

    async with MongoUnitOfWork(registry) as uow:  # the collection and its indexes exist
        await uow.users.count()
    async with async_fail_point(client, mode=ONCE, data=_close("insert")):
        await MongoUnitOfWork(registry).run(register)
    assert len(runs) == 2
    async with MongoUnitOfWork(registry) as uow:
        assert await uow.users.count() == 1  # nothing doubled


async def test_a_repository_write_with_retryable_writes_outside_a_transaction(
    client: Any,
) -> None:
    async with MongoUnitOfWork(registry, transactions=False) as uow:
        await uow.users.count()
        async with async_fail_point(client, mode=ONCE, data=_close("insert")):
            await uow.users.add(User(name="Bob", email="bob@example.com"))
        assert await uow.users.count() == 1


@pytest.mark.parametrize("fault", ["error", "close"])
async def test_a_failing_get_more_ends_the_loop_and_the_client_goes_on(
    client: Any, fault: str
) -> None:
    await Counter.objects.async_insert([Counter(name=f"c{i}") for i in range(300)])
    data = _close("getMore") if fault == "close" else {"failCommands": ["getMore"], "errorCode": 2}
    seen = 0
    async with asyncio.timeout(HANG_S):  # never hangs
        async with async_fail_point(client, mode=ONCE, data=data):
            with pytest.raises(PyMongoError):
                async for _ in Counter.objects.batch_size(50):
                    seen += 1
        assert seen == 50  # the first batch, then the failing getMore
        assert await Counter.objects.async_count() == 300
        assert len([c async for c in Counter.objects]) == 300


async def test_an_unreachable_server_fails_clearly_after_its_selection_timeout() -> None:
    await connect_async(
        "nowhere", alias="nowhere", host="mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=500
    )
    try:

        class Lost(Document):
            name = StringField()
            meta = {"db_alias": "nowhere"}

        with pytest.raises(ServerSelectionTimeoutError, match=r"Timeout: 0\.5s") as info:
            await Lost(name="x").async_save()
        assert "127.0.0.1:1" in str(info.value)  # names the server it could not reach
    finally:
        await disconnect_async("nowhere")


_NO_IO = """
import asyncio, sys

seen = []
sys.addaudithook(lambda event, args: seen.append(event) if event in WATCHED else None)
WATCHED = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"}

import persistence.engine, mongoengine
from mongoengine import Document, StringField, connect_async

async def main():
    await connect_async("no_io", host="mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=300)
    print("after connect_async:", sorted(set(seen)))

    class Ping(Document):
        name = StringField()

    try:
        await Ping(name="x").async_save()
    except Exception as error:
        print("first use:", type(error).__name__)
    print("after first use:", sorted(set(seen)))

asyncio.run(main())
"""


def test_import_and_connect_async_do_no_io() -> None:
    # Socket events seen by an audit hook: none before the first operation, and the
    # hook does see the first operation's connection attempt.
    out = subprocess.run(
        [sys.executable, "-c", _NO_IO], capture_output=True, text=True, timeout=HANG_S
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "after connect_async: []"
    assert lines[1] == "first use: ServerSelectionTimeoutError"
    assert "socket.connect" in lines[2]


async def test_asyncio_and_pymongo_timeouts_apply(client: Any) -> None:
    await Counter(name="slow").async_save()
    # The server holds the find far longer than the timeouts, however slow the machine.
    block = {"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 5_000}
    async with async_fail_point(client, data=block):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await Counter.objects.async_get(name="slow")
        with pytest.raises(PyMongoError) as info:
            with pymongo.timeout(0.1):
                await Counter.objects.async_get(name="slow")
        assert info.value.timeout
    assert (await Counter.objects.async_get(name="slow")).name == "slow"
    assert live_bridge_greenlets() == 0


async def test_cancelling_200_in_flight_tasks_leaves_nothing_behind(client: Any) -> None:
    await Counter.objects.async_insert([Counter(name=f"c{i}") for i in range(200)])
    rng = random.Random(11)

    async def save(i: int) -> None:
        await Counter(name=f"new{i}").async_save()

    async def get(i: int) -> None:
        await Counter.objects.async_get(name=f"c{i % 200}")

    async def iterate(i: int) -> None:
        async for _ in Counter.objects.batch_size(20):
            await asyncio.sleep(0)

    async def transaction(i: int) -> None:
        async with async_run_in_transaction():
            await Counter.objects(name=f"c{i % 200}").async_update_one(inc__n=1)
            await asyncio.sleep(0.001)
            await Counter(name=f"tx{i}").async_save()

    async def unit_of_work(i: int) -> None:
        async with MongoUnitOfWork(registry) as uow:
            await uow.users.add(User(name="U", email=f"u{i}@example.com"))
            await uow.commit()

    kinds = [save, get, iterate, transaction, unit_of_work]
    tasks = [asyncio.create_task(kinds[i % len(kinds)](i)) for i in range(200)]
    await asyncio.sleep(0)
    for task in tasks:
        await asyncio.sleep(rng.uniform(0, 0.002))
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert any(isinstance(r, asyncio.CancelledError) for r in results)
    # besides cancellations, only write conflicts between the concurrent transactions
    unexpected = [
        r
        for r in results
        if r is not None and not isinstance(r, asyncio.CancelledError) and not is_retryable(r)
    ]
    assert not unexpected
    # cancelled transactions are aborted and their sessions ended by shielded cleanups
    # that outlive the tasks: wait for them, not for a duration
    await until(lambda: open_transaction_sessions() == 0, "every transaction session ended")
    assert live_bridge_greenlets() == 0
    # no transaction was left open on the server: every document can still be written
    with pymongo.timeout(10):
        assert await Counter.objects.async_update(inc__n=0) >= 200
    # the client goes on: writes, reads and transactions work
    await Counter(name="after").async_save()
    async with async_run_in_transaction():
        await Counter.objects(name="after").async_update_one(inc__n=1)
    assert (await Counter.objects.async_get(name="after")).n == 1
    transactional = [r for r in await Counter.objects(name__in=[f"tx{i}" for i in range(200)])
                     .async_to_list()]
    for doc in transactional:  # a transaction either committed whole or not at all
        i = int(doc.name[2:])
        assert (await Counter.objects.async_get(name=f"c{i % 200}")).n >= 1


async def test_operation_failure_is_not_hidden(client: Any) -> None:
    await Counter(name="x").async_save()
    async with async_fail_point(
        client, mode=ONCE, data={"failCommands": ["find"], "errorCode": 2}
    ):
        with pytest.raises(OperationFailure) as info:
            await Counter.objects.async_get(name="x")
    assert info.value.code == 2
