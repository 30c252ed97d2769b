"""Exactly-once blocks against a real server (issue 22, point 2): a block is never run
again after a commit whose answer was lost until the unit of work has learnt, from the
block's commit record, whether that commit landed.

* A loopback proxy between the client and an embedded server on its own storage lets a
  ``commitTransaction`` through and swallows its reply (or swallows the command
  itself); the test then kills the server and restarts it on the same storage.  The
  driver retries the commit on the restarted server, which has forgotten the
  transaction and answers ``NoSuchTransaction`` (a server gap: MongoDB answers ok);
  ``uow.run`` must apply the transfer exactly once either way.  Kept down past the
  unit's outage budget, the run ends in ``CommitOutcomeUnknown`` without a re-run, and
  ``commit_landed`` says what happened once the server is back.
* Rounds of ``SIGKILL`` during concurrent ``uow.run`` transfers (a random moment of up
  to 5 ms after a commit is sent, so that commits are caught in flight), each transfer
  writing one movement per application: after every restart none is lost, none applied
  twice, none half-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import attrs
import pytest
from mongoengine import Document, IntField, StringField
from pymongo import monitoring

import persistence.engine  # noqa: F401
from eventually import HANG_S
from persistence.engine import connect_async, disconnect_async
from persistence.errors import CommitOutcomeUnknown, StoreUnavailable
from persistence.fields import VersionField
from persistence.ids import new_id
from persistence.mongo import MongoUnitOfWork
from persistence.registry import Registry
from persistence.retry_policy import RetryPolicy
from persistence.testing import EmbeddedServer, Link, LoopbackProxy, wire_messages

ALIAS = "exactly_once"
OPENING_BALANCE = 1_000

# -- a ledger: one movement document per application of a transfer ----------------------


@attrs.define(kw_only=True)
class Wallet:
    id: str = attrs.field(factory=new_id)
    number: int
    balance: int
    version: int = 0


@attrs.define(kw_only=True)
class Movement:
    """Written by every application of a transfer: never unique per transfer, so a
    transfer applied twice shows as two movements instead of a duplicate key."""

    id: str = attrs.field(factory=new_id)
    transfer: str
    source: int
    target: int
    amount: int


class WalletDocument(Document):
    number = IntField(required=True, unique=True)
    balance = IntField(required=True)
    version = VersionField()
    meta = {"collection": "eo_wallets"}


class MovementDocument(Document):
    transfer = StringField(required=True)
    source = IntField(required=True)
    target = IntField(required=True)
    amount = IntField(required=True)
    meta = {"collection": "eo_movements"}


ledger = Registry()
ledger.add(Wallet, WalletDocument)
ledger.add(Movement, MovementDocument)


def _transfer(key: str, source: Wallet, target: Wallet, amount: int) -> Any:
    """The block of one transfer: both balances and one movement naming ``key``."""

    async def move(uow: Any) -> None:
        wallets = uow.repo(Wallet)
        paying, paid = await wallets.get(source.id), await wallets.get(target.id)
        paying.balance -= amount
        paid.balance += amount
        await wallets.save(paying)
        await wallets.save(paid)
        await uow.repo(Movement).add(
            Movement(transfer=key, source=source.number, target=target.number, amount=amount)
        )

    return move


async def _open_wallets(uow: MongoUnitOfWork, count: int) -> list[Wallet]:
    wallets = [Wallet(number=n, balance=OPENING_BALANCE) for n in range(count)]

    async def add(uow: Any) -> None:
        await uow.repo(Wallet).add_many(wallets)

    await uow.run(add)
    return wallets


@attrs.define
class Audit:
    """What the store holds, read back."""

    applications: Counter[str]  # movements per transfer key
    balances: dict[int, int]
    explained: dict[int, int]  # the balances the stored movements account for

    def lost(self, acknowledged: set[str]) -> list[str]:
        return sorted(k for k in acknowledged if self.applications[k] == 0)

    @property
    def applied_twice(self) -> list[str]:
        return sorted(k for k, n in self.applications.items() if n > 1)

    @property
    def half_applied(self) -> int:
        """Wallets whose balance no set of whole transfers explains."""
        return sum(self.balances[n] != self.explained[n] for n in self.explained)


async def _audit(uow: MongoUnitOfWork, wallet_count: int) -> Audit:
    async with uow.reading() as reader:
        movements = await reader.repo(Movement).find()
        wallets = await reader.repo(Wallet).find()
    explained = {n: OPENING_BALANCE for n in range(wallet_count)}
    for m in movements:
        explained[m.source] -= m.amount
        explained[m.target] += m.amount
    return Audit(
        applications=Counter(m.transfer for m in movements),
        balances={w.number: w.balance for w in wallets},
        explained=explained,
    )


class CommitWatch(monitoring.CommandListener):
    """Once armed, sets ``seen`` a random moment (0 to 5 ms) after the next
    ``commitTransaction`` is sent: a kill then often catches a commit in flight."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.armed = False
        self.seen = asyncio.Event()

    def arm(self) -> None:
        self.seen.clear()
        self.armed = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.armed and event.command_name == "commitTransaction":
            self.armed = False
            asyncio.get_running_loop().call_later(self.rng.uniform(0, 0.005), self.seen.set)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


async def _connect(port: int, **options: Any) -> None:
    await connect_async(
        "exactly_once_db",
        alias=ALIAS,
        host=f"mongodb://127.0.0.1:{port}/?directConnection=true",
        heartbeatFrequencyMS=500,  # rediscovers the restarted server quickly
        uuidRepresentation="standard",
        **options,
    )


@contextlib.asynccontextmanager
async def _durable_server() -> AsyncIterator[EmbeddedServer]:
    with tempfile.TemporaryDirectory(prefix="exactly-once-") as storage:
        server = EmbeddedServer(storage_path=storage)
        assert server.durable  # --sync-on-commit: a commit answered is on disk
        server.start()
        try:
            yield server
        finally:
            await disconnect_async(ALIAS)
            server.stop()


async def _restart(server: EmbeddedServer) -> None:
    """SIGKILL, then start again on the same storage and port (the event loop runs on
    meanwhile, so clients see the outage as it happens)."""
    server.kill()
    await asyncio.to_thread(server.start)


# -- the proxy --------------------------------------------------------------------------


class CommitSwallowingProxy(LoopbackProxy):
    """A TCP proxy to ``upstream_port``.  Once armed, it swallows the next
    ``commitTransaction``: its reply (the commit runs, the client never hears of it) or,
    with ``swallow_command``, the command itself (the commit never runs).  ``swallowed``
    is set then; the client's connection hangs until the upstream side goes away."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.armed = False
        self.swallow_command = False
        self.swallowed = asyncio.Event()

    def arm(self, *, swallow_command: bool = False) -> None:
        self.swallow_command = swallow_command
        self.swallowed.clear()
        self.armed = True

    def _pipes(self, link: Link) -> list[Coroutine[Any, Any, None]]:
        commits: set[int] = set()

        async def upstream() -> None:
            async for message in wire_messages(link.client_reader):
                if self.armed and message.command_name == "commitTransaction":
                    self.armed = False
                    if self.swallow_command:
                        self.swallowed.set()  # the commit never reaches the server
                        continue
                    commits.add(message.request_id)
                link.server_writer.write(message.raw)
                await link.server_writer.drain()

        async def downstream() -> None:
            async for message in wire_messages(link.server_reader):
                if message.response_to in commits:
                    commits.discard(message.response_to)
                    self.swallowed.set()  # the commit ran; its reply goes nowhere
                    continue
                link.client_writer.write(message.raw)
                await link.client_writer.drain()

        return [upstream(), downstream()]


@contextlib.asynccontextmanager
async def _proxied() -> AsyncIterator[tuple[EmbeddedServer, CommitSwallowingProxy]]:
    async with _durable_server() as server:
        proxy = await CommitSwallowingProxy(server.port).start()
        try:
            yield server, proxy
        finally:
            await disconnect_async(ALIAS)
            await proxy.close()


@pytest.mark.parametrize("landed", [True, False], ids=["reply-lost", "command-lost"])
async def test_a_transfer_whose_commit_answer_is_lost_in_a_restart_applies_once(
    landed: bool,
) -> None:
    async with _proxied() as (server, proxy):
        await _connect(proxy.port)
        uow = MongoUnitOfWork(ledger, alias=ALIAS)
        ann, bob = await _open_wallets(uow, 2)
        runs = []
        move = _transfer("t1", ann, bob, 30)

        async def transfer(uow: Any) -> None:
            runs.append(1)
            await move(uow)

        proxy.arm(swallow_command=not landed)
        running = asyncio.create_task(uow.run(transfer))
        await asyncio.wait_for(proxy.swallowed.wait(), HANG_S)
        await _restart(server)  # the driver retries the commit there: NoSuchTransaction
        await asyncio.wait_for(running, HANG_S)

        audit = await _audit(uow, 2)
        assert audit.applications == Counter({"t1": 1})  # exactly once, not twice
        assert audit.half_applied == 0
        assert audit.balances == {0: OPENING_BALANCE - 30, 1: OPENING_BALANCE + 30}
        assert len(runs) == (1 if landed else 2)  # re-run only after a commit that did not land


async def test_a_commit_answer_lost_for_the_whole_outage_budget_is_never_run_again() -> None:
    async with _proxied() as (server, proxy):
        await _connect(proxy.port, serverSelectionTimeoutMS=500)
        uow = MongoUnitOfWork(ledger, alias=ALIAS, retry_policy=RetryPolicy(outage_budget=2.0))
        ann, bob = await _open_wallets(uow, 2)
        runs = []
        move = _transfer("t1", ann, bob, 30)

        async def transfer(uow: Any) -> None:
            runs.append(1)
            await move(uow)

        proxy.arm()
        running = asyncio.create_task(uow.run(transfer))
        await asyncio.wait_for(proxy.swallowed.wait(), HANG_S)
        server.kill()  # and it stays down past the outage budget
        with pytest.raises(CommitOutcomeUnknown) as raised:
            await asyncio.wait_for(running, HANG_S)
        assert runs == [1]  # never run again: it may have landed
        await asyncio.to_thread(server.start)
        assert await uow.commit_landed(raised.value.commit_id)  # it had
        assert (await _audit(uow, 2)).applications == Counter({"t1": 1})


# -- kill -9 rounds ------------------------------------------------------------------------

WALLETS = 8
WORKERS = 12
ROUNDS = 6


@attrs.define
class Tally:
    acknowledged: set[str] = attrs.field(factory=set)
    not_applied: set[str] = attrs.field(factory=set)  # failed, retry-safe or a refusal
    unknown: set[str] = attrs.field(factory=set)  # CommitOutcomeUnknown
    settled: Counter[str] = attrs.field(factory=Counter)  # lost answers, by outcome


async def _worker(
    uow: MongoUnitOfWork, wallets: list[Wallet], tally: Tally, stop: asyncio.Event,
    rng: random.Random,
) -> None:
    while not stop.is_set():
        source, target = rng.sample(wallets, 2)
        key = uuid.uuid4().hex
        try:
            await uow.run(_transfer(key, source, target, rng.randint(1, 50)))
        except CommitOutcomeUnknown:
            tally.unknown.add(key)
        except StoreUnavailable as exc:
            assert exc.retry_safe
            tally.not_applied.add(key)
        except Exception:  # a conflict past its budget, a refusal: nothing applied
            tally.not_applied.add(key)
        else:
            tally.acknowledged.add(key)


async def test_kill_9_during_concurrent_runs_loses_repeats_and_splits_no_transfer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random()
    tally = Tally()
    settle = MongoUnitOfWork._commit_landed

    async def counted(self: MongoUnitOfWork, record: Any) -> bool:
        landed = await settle(self, record)
        tally.settled["landed" if landed else "did not land"] += 1
        return landed

    monkeypatch.setattr(MongoUnitOfWork, "_commit_landed", counted)
    watch = CommitWatch(rng)
    async with _durable_server() as server:
        await _connect(server.port, event_listeners=[watch])
        uow = MongoUnitOfWork(ledger, alias=ALIAS)  # one unit shared by every worker
        wallets = await _open_wallets(uow, WALLETS)
        for round_no in range(ROUNDS):
            stop = asyncio.Event()
            workers = [
                asyncio.create_task(_worker(uow, wallets, tally, stop, rng))
                for _ in range(WORKERS)
            ]
            before = len(tally.acknowledged)
            give_up = asyncio.get_running_loop().time() + HANG_S  # a hang guard
            while len(tally.acknowledged) < before + 5:  # some commits, then a moment
                assert asyncio.get_running_loop().time() < give_up, "no transfer commits"
                await asyncio.sleep(0.01)
            watch.arm()  # kill a moment after a commit is sent
            await asyncio.wait_for(watch.seen.wait(), HANG_S)
            await _restart(server)
            after_restart = len(tally.acknowledged)
            while len(tally.acknowledged) < after_restart + 5:  # the runs go on after it
                assert asyncio.get_running_loop().time() < give_up, "nothing commits after"
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), HANG_S)

            audit = await _audit(uow, WALLETS)
            lost = audit.lost(tally.acknowledged)
            invented = sorted(k for k in tally.not_applied if audit.applications[k])
            print(
                f"round {round_no}: {len(tally.acknowledged)} acknowledged, "
                f"{len(tally.not_applied)} failed with nothing applied, "
                f"{len(tally.unknown)} of unknown outcome; "
                f"{sum(audit.applications.values())} movements and {WALLETS} balances "
                f"checked; lost answers settled so far: {dict(tally.settled)}; lost {len(lost)}, "
                f"applied twice {len(audit.applied_twice)}, half-applied "
                f"{audit.half_applied}, applied though reported not {len(invented)}"
            )
            assert lost == []
            assert audit.applied_twice == []
            assert audit.half_applied == 0
            assert invented == []
