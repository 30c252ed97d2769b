"""``async_run_in_transaction`` and ``async_transaction`` on the server's replica set."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from mongoengine import Document, IntField, StringField
from mongoengine.errors import OperationError
from pymongo.errors import OperationFailure

import persistence.engine  # noqa: F401
from persistence.engine import (
    TransactionsNotSupportedError,
    async_run_in_transaction,
    async_transaction,
    connect_async,
    disconnect_async,
    get_async_connection,
)
from persistence.testing import EmbeddedServer, async_fail_point


class Counted(Document):
    n = IntField()


async def test_unfiltered_count_inside_a_transaction_sees_its_writes(async_db: Any) -> None:
    """MongoEngine counts an unfiltered queryset with ``estimated_document_count``
    (the ``count`` command), which cannot run in a transaction: it is replaced there."""
    await Counted.objects.async_insert([Counted(n=i) for i in range(3)])
    async with async_run_in_transaction():
        await Counted.objects(n=0).async_delete()
        await Counted(n=9).async_save()
        await Counted(n=10).async_save()
        assert await Counted.objects.async_count() == 4
        assert await Counted.objects(n__gte=9).async_count() == 2
    assert await Counted.objects.async_count() == 4  # the fast path outside
    assert await async_db["counted"].count_documents({}) == 4


class Account(Document):
    owner = StringField(required=True)
    balance = IntField(default=0)


async def test_commit_on_exit_abort_on_exception_importable_from_mongoengine(
    async_db: Any,
) -> None:
    from mongoengine import async_run_in_transaction as exported

    assert exported is async_run_in_transaction
    async with async_run_in_transaction():
        await Account(owner="kept", balance=1).async_save()
    with pytest.raises(ValueError, match="midway"):
        async with async_run_in_transaction():
            await Account(owner="lost", balance=2).async_save()
            assert await Account.objects(owner="lost").async_count() == 1  # seen inside
            raise ValueError("midway")
    assert [d["owner"] async for d in async_db["account"].find()] == ["kept"]


async def test_nested_use_on_the_same_client_raises_operation_error(async_db: Any) -> None:
    async with async_run_in_transaction():
        await Account(owner="outer").async_save()
        with pytest.raises(OperationError, match="already running"):
            async with async_run_in_transaction():
                pass  # pragma: no cover - never entered
    assert await async_db["account"].count_documents({}) == 1


async def test_async_transaction_retries_a_transient_error(async_db: Any) -> None:
    from mongoengine import async_transaction as exported

    assert exported is async_transaction
    client = get_async_connection()
    runs = []

    async def open_account(owner: str) -> str:
        runs.append(owner)
        account = await Account(owner=owner, balance=10).async_save()
        return str(account.id)

    await Account.objects.async_count()  # the collection exists before the fail point
    async with async_fail_point(
        client,
        mode={"times": 1},
        data={
            "failCommands": ["insert"],
            "errorCode": 112,
            "errorLabels": ["TransientTransactionError"],
        },
    ):
        account_id = await async_transaction(open_account, "ann")
    assert runs == ["ann", "ann"]  # the whole function ran twice
    stored = [d async for d in async_db["account"].find()]
    assert [(str(d["_id"]), d["owner"]) for d in stored] == [(account_id, "ann")]  # once


async def test_async_transaction_retries_only_the_commit_when_its_result_is_unknown(
    async_db: Any,
) -> None:
    client = get_async_connection()
    runs = []

    async def deposit() -> None:
        runs.append(1)
        await Account.objects(owner="ann").async_update_one(inc__balance=5)

    await Account(owner="ann", balance=0).async_save()
    async with async_fail_point(
        client,
        mode={"times": 1},
        data={
            "failCommands": ["commitTransaction"],
            "errorCode": 2,  # not a state-change code: the server stays selectable
            "errorLabels": ["UnknownTransactionCommitResult"],
        },
    ):
        await async_transaction(deposit)
    assert runs == [1]
    assert (await Account.objects.async_get(owner="ann")).balance == 5


async def test_async_transaction_gives_up_after_max_retries(async_db: Any) -> None:
    client = get_async_connection()
    runs = []

    async def write() -> None:
        runs.append(1)
        await Account(owner="x").async_save()

    await Account.objects.async_count()
    async with async_fail_point(
        client,
        data={
            "failCommands": ["insert"],
            "errorCode": 112,
            "errorLabels": ["TransientTransactionError"],
        },
    ):
        with pytest.raises(OperationError) as info:  # MongoEngine's, raised from PyMongo's
            await async_transaction(write, max_retries=2)
    assert isinstance(info.value.__context__, OperationFailure)
    assert info.value.__context__.has_error_label("TransientTransactionError")
    assert len(runs) == 3
    assert await async_db["account"].count_documents({}) == 0


async def test_concurrent_transfers_each_in_their_own_session(async_db: Any) -> None:
    accounts = [Account(owner=f"a{i}", balance=100) for i in range(10)]
    await Account.objects.async_insert(accounts)
    ids = [a.id for a in accounts]
    rng = random.Random(7)
    plans = [(rng.sample(ids, 2), rng.randint(1, 30), i % 3 == 0) for i in range(20)]
    attempts: dict[int, int] = {}

    async def transfer(n: int, source: Any, target: Any, amount: int, fail: bool) -> None:
        attempts[n] = attempts.get(n, 0) + 1
        await Account.objects(id=source).async_update_one(dec__balance=amount)
        await asyncio.sleep(0)  # let the other transfers interleave
        if fail:
            raise RuntimeError(f"transfer {n} failed midway")
        await Account.objects(id=target).async_update_one(inc__balance=amount)

    results = await asyncio.gather(
        *(
            async_transaction(transfer, n, s, t, amount, fail, max_retries=100)
            for n, ((s, t), amount, fail) in enumerate(plans)
        ),
        return_exceptions=True,
    )
    failed = [n for n, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [n for n, plan in enumerate(plans) if plan[2]]
    assert all(isinstance(results[n], RuntimeError) for n in failed)
    expected = {i: 100 for i in ids}
    for (source, target), amount, fail in plans:
        if not fail:
            expected[source] -= amount
            expected[target] += amount
    stored = {d["_id"]: d["balance"] async for d in async_db["account"].find()}
    assert stored == expected  # every failed transfer fully rolled back
    assert sum(stored.values()) == 1000


async def test_transactions_refused_at_the_start_without_a_replica_set() -> None:
    server = EmbeddedServer(extra_args=["--standalone"]).start()
    try:
        await connect_async("standalone_db", alias="standalone", host=server.uri)
        with pytest.raises(TransactionsNotSupportedError, match="standalone"):
            async with async_run_in_transaction("standalone"):
                pytest.fail("the block must not run")  # pragma: no cover
        with pytest.raises(TransactionsNotSupportedError):
            await async_transaction(asyncio.sleep, 0, alias="standalone")
    finally:
        await disconnect_async("standalone")
        server.stop()


async def test_transactions_refused_on_mongomock(mongomock_db: Any) -> None:
    with pytest.raises(TransactionsNotSupportedError, match="mongomock"):
        async with async_run_in_transaction():
            pytest.fail("the block must not run")  # pragma: no cover


class Ledger(Document):
    entry = StringField()
    meta = {"db_alias": "ledger"}


async def test_documents_on_another_alias_of_the_same_client_join(
    async_db: Any, mongodb_uri: str
) -> None:
    name = f"{async_db.name}_ledger"
    client = await connect_async(name, alias="ledger", host=mongodb_uri)
    try:
        assert client is get_async_connection()  # one client, two databases
        with pytest.raises(RuntimeError):
            async with async_run_in_transaction():
                await Account(owner="a").async_save()
                await Ledger(entry="opened a").async_save()
                raise RuntimeError("abort both")
        async with async_run_in_transaction():
            await Account(owner="b").async_save()
            await Ledger(entry="opened b").async_save()
        assert [d["owner"] async for d in async_db["account"].find()] == ["b"]
        assert [d["entry"] async for d in client[name]["ledger"].find()] == ["opened b"]
    finally:
        await client.drop_database(name)
        await disconnect_async("ledger")
