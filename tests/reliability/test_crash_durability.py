"""A server crash (SIGKILL) during concurrent committed transfers loses nothing that was
acknowledged and leaves no transfer half-applied.

The server is our own embedded one on its own storage directory (so it is started
durable); each round kills it at a random moment while transfers commit, restarts it on
the same storage and port, and checks every transfer ever acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections import Counter

import pytest
from mongoengine import Document, IntField, StringField

import persistence.engine  # noqa: F401
from persistence.engine import async_run_in_transaction, connect_async, disconnect_async
from persistence.testing import EmbeddedServer

ALIAS = "crash"
ACCOUNTS = 8
OPENING_BALANCE = 1_000
WORKERS = 12
ROUNDS = 4


class CrashAccount(Document):
    number = IntField(primary_key=True)
    balance = IntField(required=True)
    meta = {"db_alias": ALIAS}


class CrashTransfer(Document):
    """Written in the transfer's own transaction: present exactly when it applied."""

    transfer_id = StringField(primary_key=True)
    source = IntField(required=True)
    target = IntField(required=True)
    amount = IntField(required=True)
    meta = {"db_alias": ALIAS}


async def _transfer(source: int, target: int, amount: int) -> str:
    transfer_id = uuid.uuid4().hex
    async with async_run_in_transaction(ALIAS):  # durable write concern by default
        await CrashAccount.objects(number=source).async_update_one(dec__balance=amount)
        await CrashAccount.objects(number=target).async_update_one(inc__balance=amount)
        await CrashTransfer(
            transfer_id=transfer_id, source=source, target=target, amount=amount
        ).async_save(force_insert=True)
    return transfer_id


async def _worker(acknowledged: set[str], stop: asyncio.Event, rng: random.Random) -> None:
    while not stop.is_set():
        source, target = rng.sample(range(ACCOUNTS), 2)
        try:
            acknowledged.add(await _transfer(source, target, rng.randint(1, 50)))
        except Exception:  # a write conflict, or the server gone: not acknowledged
            await asyncio.sleep(0.01)


async def _check(acknowledged: set[str]) -> int:
    """Every acknowledged transfer is stored; every stored transfer is applied whole."""
    transfers = [t async for t in CrashTransfer.objects]
    stored = {t.transfer_id for t in transfers}
    assert acknowledged <= stored, f"lost {len(acknowledged - stored)} acknowledged transfers"
    expected = Counter({n: OPENING_BALANCE for n in range(ACCOUNTS)})
    for t in transfers:
        expected[t.source] -= t.amount
        expected[t.target] += t.amount
    balances = {a.number: a.balance async for a in CrashAccount.objects}
    assert balances == dict(expected)  # no transfer half-applied
    assert sum(balances.values()) == ACCOUNTS * OPENING_BALANCE
    return len(stored)


async def _connect(server: EmbeddedServer) -> None:
    await connect_async(
        "crash_db",
        alias=ALIAS,
        host=server.uri,
        serverSelectionTimeoutMS=1000,
        uuidRepresentation="standard",
    )


async def test_acknowledged_transfers_survive_sigkill_and_none_is_half_applied() -> None:
    rng = random.Random()
    with tempfile.TemporaryDirectory(prefix="crash-") as storage:
        server = EmbeddedServer(storage_path=storage)
        assert server.durable
        server.start()
        acknowledged: set[str] = set()
        try:
            await _connect(server)
            async with async_run_in_transaction(ALIAS):
                for n in range(ACCOUNTS):
                    await CrashAccount(number=n, balance=OPENING_BALANCE).async_save()
            for round_no in range(ROUNDS):
                stop = asyncio.Event()
                before = len(acknowledged)
                workers = [
                    asyncio.create_task(_worker(acknowledged, stop, rng)) for _ in range(WORKERS)
                ]
                while len(acknowledged) < before + 5:  # some commits, then a random moment
                    await asyncio.sleep(0.01)
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                server.kill()
                stop.set()
                await asyncio.gather(*workers)
                await disconnect_async(ALIAS)
                server.start()  # same storage, same port
                await _connect(server)
                stored = await _check(acknowledged)
                print(
                    f"round {round_no}: {len(acknowledged)} acknowledged so far, "
                    f"{stored} stored, all checked"
                )
        finally:
            await disconnect_async(ALIAS)
            server.stop()


@pytest.mark.parametrize("durable", [True, False])
def test_the_launcher_asks_for_sync_on_commit_only_when_durable(durable: bool) -> None:
    server = EmbeddedServer(durable=durable)
    try:
        assert ("--sync-on-commit" in server._command_line()) is durable
    finally:
        server.stop()
    assert not EmbeddedServer().durable  # our own throwaway storage
