"""The outbox's contract (issue 24), the same on memory, mongomock (polling: no change
streams, no transactions) and the server (change streams): what a block publishes is
delivered after its commit, never from a rolled-back block; in commit order per key; at
least once across a consumer's restart; failing handlers retried, then parked dead and
replayable; effects exactly once through ``handle_once``."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from adapters.documents.accounts import AccountDocument
from eventually import HANG_S, until, until_found
from persistence.errors import UnitOfWorkError
from persistence.ids import new_id
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.outbox import (
    Delivery,
    EventTypes,
    HandlerRetry,
    Outbox,
    StoredRecord,
    UnknownEvent,
    domain_event,
    handle_once,
)
from persistence.outbox.delivery import in_partition
from persistence.outbox.recording import MAX_EVENTS_BYTES
from persistence.registry import Registry


@attrs.define(kw_only=True)
class Account:
    id: str = attrs.field(factory=new_id)
    owner: str
    balance: int = 0
    version: int = 0


registry = Registry()
registry.add(Account, AccountDocument)


@domain_event(
    "contract.deposited", version=2, key="account", upgrade={1: lambda d: {**d, "note": ""}}
)
@attrs.frozen
class Deposited:
    account: str
    amount: int
    note: str = ""


@domain_event("contract.pinged")
@attrs.frozen
class Pinged:
    n: int


class Unregistered:
    pass


RETRY = HandlerRetry(attempts=3, base_delay=0.001, max_delay=0.01)


@attrs.define
class Backend:
    make_uow: Callable[[], Any]
    outbox: Outbox
    name: str


@pytest.fixture
def ob(backend_name: str, request: pytest.FixtureRequest) -> Backend:
    """Units of work and the outbox of one backend state."""
    if backend_name == "memory":
        from persistence.outbox.memory import MemoryOutbox

        store = InMemoryStore()
        return Backend(
            lambda: InMemoryUnitOfWork(registry, store), MemoryOutbox(store, retry=RETRY), "memory"
        )
    from persistence.outbox.mongo import MongoOutbox

    make = request.getfixturevalue(f"{backend_name}_backend")
    outbox = MongoOutbox(retry=RETRY, poll_interval=0.02)
    return Backend(lambda: make(registry), outbox, backend_name)


async def take(
    outbox: Outbox,
    consumer: str,
    count: int,
    *,
    ack: bool = True,
    partition: tuple[int, int] | None = None,
) -> list[Delivery]:
    """The next ``count`` deliveries to ``consumer`` (acknowledged), within a hang guard."""
    got: list[Delivery] = []

    async def collect() -> None:
        consuming = outbox.consume(consumer, partition=partition)
        try:
            async for delivery in consuming:
                got.append(delivery)
                if ack:
                    await delivery.ack()
                if len(got) == count:
                    return
        finally:
            await consuming.aclose()  # type: ignore[attr-defined]

    await asyncio.wait_for(collect(), HANG_S)
    return got


async def nothing_more(outbox: Outbox, consumer: str) -> None:
    """No delivery is pending for ``consumer``: a marker event comes next."""
    uow = outbox_uow[0]

    async def mark(uow: Any) -> None:
        uow.publish(Pinged(-1))

    await uow.run(mark)
    (marker,) = await take(outbox, consumer, 1)
    assert marker.event == Pinged(-1)


outbox_uow: list[Any] = []


@pytest.fixture(autouse=True)
def _uow_for_markers(ob: Backend) -> None:
    outbox_uow[:] = [ob.make_uow()]


async def test_a_committed_block_delivers_its_events_and_a_rolled_back_one_none(
    ob: Backend,
) -> None:
    uow = ob.make_uow()
    account = Account(owner="ann")

    async def deposit(uow: Any) -> None:
        await uow.repo(Account).add(account)
        uow.publish(Deposited(account.id, 10))
        uow.publish(Pinged(1))
        assert uow.published == [Deposited(account.id, 10), Pinged(1)]

    await uow.run(deposit)
    with pytest.raises(RuntimeError):
        async with uow:
            uow.publish(Pinged(2))
            raise RuntimeError("the block fails")
    async with uow:
        uow.publish(Pinged(3))
        await uow.rollback()
        uow.publish(Pinged(4))  # an events-only unit still commits its events
        await uow.commit()
    got = await take(ob.outbox, "billing", 3)
    assert [d.event for d in got] == [Deposited(account.id, 10), Pinged(1), Pinged(4)]
    assert [d.type for d in got] == ["contract.deposited", "contract.pinged", "contract.pinged"]
    assert got[0].key == account.id and got[0].seq == 1 and got[1].key is None
    assert len({d.id for d in got}) == 3
    await nothing_more(ob.outbox, "billing")
    async with uow.reading() as reader:  # the block's data committed with its events
        assert (await reader.repo(Account).get(account.id)).owner == "ann"


async def test_a_nested_block_that_fails_makes_the_whole_unit_publish_nothing(ob: Backend) -> None:
    uow = ob.make_uow()
    async with uow:
        uow.publish(Pinged(1))
        with pytest.raises(RuntimeError):
            async with uow:
                uow.publish(Pinged(2))
                raise RuntimeError("inner")
        with pytest.raises(UnitOfWorkError):
            await uow.commit()
    await nothing_more(ob.outbox, "billing")


async def test_events_of_one_key_come_in_commit_order_from_concurrent_blocks(ob: Backend) -> None:
    uow = ob.make_uow()  # one unit shared by every task: a block per task
    accounts = [Account(owner=f"o{i}") for i in range(2)]

    async def open_accounts(uow: Any) -> None:
        await uow.repo(Account).add_many(accounts)

    await uow.run(open_accounts)

    async def deposit(account: Account, amount: int) -> None:
        async def block(uow: Any) -> None:
            stored = await uow.repo(Account).get(account.id)
            stored.balance += amount
            await uow.repo(Account).save(stored)
            uow.publish(Deposited(account.id, stored.balance))  # the running balance

        await uow.run(block)

    await asyncio.gather(*(deposit(accounts[i % 2], i + 1) for i in range(20)))
    got = await take(ob.outbox, "ledger", 20)
    for account in accounts:
        mine = [d for d in got if d.key == account.id]
        assert [d.seq for d in mine] == list(range(1, 11))
        balances = [d.event.amount for d in mine]
        assert balances == sorted(balances)  # each commit saw the one before it
        async with uow.reading() as reader:
            assert (await reader.repo(Account).get(account.id)).balance == balances[-1]


async def test_a_consumer_that_stops_resumes_after_its_last_acknowledgement(ob: Backend) -> None:
    uow = ob.make_uow()

    async def publish(n: int) -> None:
        async def block(uow: Any) -> None:
            uow.publish(Pinged(n))

        await uow.run(block)

    for n in range(3):
        await publish(n)
    assert [d.event.n for d in await take(ob.outbox, "mail", 2)] == [0, 1]
    unacked = await take(ob.outbox, "mail", 1, ack=False)  # stops before acknowledging
    assert unacked[0].event == Pinged(2)
    for n in range(3, 5):
        await publish(n)
    again = await take(ob.outbox, "mail", 3)  # at least once: the unacknowledged again
    assert [d.event.n for d in again] == [2, 3, 4]
    assert again[0].id == unacked[0].id
    other = await take(ob.outbox, "audit", 5)  # each consumer gets every event
    assert [d.event.n for d in other] == [0, 1, 2, 3, 4]


async def test_a_failing_handler_is_retried_then_parked_and_replayed(
    ob: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = ob.make_uow()

    async def block(uow: Any) -> None:
        uow.publish(Pinged(1))
        uow.publish(Pinged(2))

    await uow.run(block)
    calls: list[tuple[int, int]] = []
    finished: list[str] = []  # records the consumer's position moved past, when it has
    feed_done = ob.outbox.feed.done

    async def done(position: str, record: StoredRecord) -> None:
        await feed_done(position, record)
        finished.append(record.id)

    monkeypatch.setattr(ob.outbox.feed, "done", done)

    async def handler(delivery: Delivery) -> None:
        calls.append((delivery.event.n, delivery.attempt))
        if delivery.event.n == 1:
            raise ValueError("the mail server said no")

    running = asyncio.create_task(ob.outbox.run("mail", handler))
    try:
        # the record is finished after the handler returns from event 2, not when it is
        # called: cancelling before would deliver both events again
        await until(lambda: len(finished) == 1, f"the record finished ({calls})")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert calls == [(1, 1), (1, 2), (1, 3), (2, 1)]  # 3 attempts, then the next event
    (letter,) = await ob.outbox.dead_letters("mail")
    assert letter.event.data == {"n": 1} and letter.attempts == 3
    assert letter.error == "ValueError: the mail server said no"

    async def still_failing(delivery: Delivery) -> None:
        raise KeyError("still")

    assert await ob.outbox.replay("mail", still_failing) == 0
    (kept,) = await ob.outbox.dead_letters("mail")
    assert kept.attempts == 4 and "KeyError" in kept.error
    replayed: list[Any] = []

    async def fixed(delivery: Delivery) -> None:
        replayed.append(delivery.event)

    assert await ob.outbox.replay("mail", fixed) == 1
    assert replayed == [Pinged(1)]
    assert await ob.outbox.dead_letters("mail") == []
    await nothing_more(ob.outbox, "mail")  # neither event comes again


async def test_handle_once_takes_effect_once_when_an_event_comes_twice(ob: Backend) -> None:
    uow = ob.make_uow()
    account = Account(owner="ann")

    async def open_and_publish(uow: Any) -> None:
        await uow.repo(Account).add(account)
        uow.publish(Deposited(account.id, 7))

    await uow.run(open_and_publish)
    (first,) = await take(ob.outbox, "billing", 1, ack=False)
    (second,) = await take(ob.outbox, "billing", 1)  # the same event, delivered again
    assert first.id == second.id

    async def apply(delivery: Delivery) -> bool:
        async def work(uow: Any) -> None:
            stored = await uow.repo(Account).get(account.id)
            stored.balance += delivery.event.amount
            await uow.repo(Account).save(stored)

        return await handle_once(uow, delivery, work)

    results = await asyncio.gather(apply(first), apply(second), apply(first))
    assert sorted(results) == [False, False, True]
    async with uow.reading() as reader:
        assert (await reader.repo(Account).get(account.id)).balance == 7

    async def failing(uow: Any) -> None:
        raise RuntimeError("the handler fails: the mark rolls back with it")

    other = attrs.evolve(second.stored, id=second.id + "x")
    retry = Delivery(None, "billing", None, other, second.event, 1, True)
    with pytest.raises(RuntimeError):
        await handle_once(uow, retry, failing)
    assert await handle_once(uow, retry, lambda uow: asyncio.sleep(0)) is True


async def test_a_stored_event_of_an_older_version_is_upgraded_and_an_unknown_one_parked(
    ob: Backend,
) -> None:
    uow = ob.make_uow()
    old_types = EventTypes()

    @domain_event("contract.deposited", version=1, key="account", types=old_types)
    @attrs.frozen
    class OldDeposited:
        account: str
        amount: int

    @domain_event("contract.gone", types=old_types)
    @attrs.frozen
    class Gone:
        n: int

    async def block(uow: Any) -> None:
        from persistence.outbox.recording import prepare_event

        for event in (Gone(1), OldDeposited("a", 1)):  # as an older deployment wrote them
            uow._open_block()._published_events.append(prepare_event(event, types=old_types))

    await uow.run(block)
    (got,) = await take(ob.outbox, "billing", 1)
    assert got.event == Deposited("a", 1, "")  # version 1 read through its upgrade
    await nothing_more(ob.outbox, "billing")
    (letter,) = await ob.outbox.dead_letters("billing")
    assert letter.event.type == "contract.gone" and "UnknownEvent" in letter.error
    assert issubclass(UnknownEvent, LookupError)


async def test_publish_refuses_what_it_cannot_store_before_any_write(ob: Backend) -> None:
    uow = ob.make_uow()
    async with uow:
        with pytest.raises(TypeError, match="Unregistered is not a domain event"):
            uow.publish(Unregistered())
        with pytest.raises(TypeError, match=r"contract\.pinged.*cannot keep"):
            uow.publish(Pinged(n=object()))  # type: ignore[arg-type]
        assert uow.published == []
    async with uow.reading() as reader:
        with pytest.raises(UnitOfWorkError, match="read-only"):
            reader.publish(Pinged(1))
    with pytest.raises(UnitOfWorkError):
        uow.publish(Pinged(1))  # outside a block
    await nothing_more(ob.outbox, "billing")


async def test_a_block_whose_commit_answer_is_lost_publishes_once(
    ob: Backend, backend_name: str
) -> None:
    if backend_name != "memory":
        pytest.skip("lost answers are simulated by the memory store; the server's in "
                    "tests/reliability/test_outbox_exactly_once.py")
    uow = ob.make_uow()
    store = uow.store
    runs: list[int] = []

    async def block(uow: Any) -> None:
        runs.append(1)
        uow.publish(Pinged(len(runs)))

    store.lose_commit_replies(applied=True)  # landed: not run again
    await uow.run(block)
    store.lose_commit_replies(applied=False)  # did not land: run again, published once
    await uow.run(block)
    got = await take(ob.outbox, "billing", 2)
    assert [d.event for d in got] == [Pinged(1), Pinged(3)]
    assert runs == [1, 1, 1]
    await nothing_more(ob.outbox, "billing")


async def test_prune_deletes_what_every_consumer_finished_and_nothing_else(
    ob: Backend,
) -> None:
    outbox: Any = ob.outbox
    await outbox.ensure_indexes()
    uow = ob.make_uow()
    account = Account(owner="ann")

    async def publish(uow: Any, n: int) -> None:
        uow.publish(Deposited(account.id, n))

    for n in (1, 2):
        await uow.run(lambda uow, n=n: publish(uow, n))
    (first, second) = await take(outbox, "billing", 2)

    async def effect(uow: Any) -> None:
        return None

    assert await handle_once(uow, first, effect)
    assert await take(outbox, "audit", 1)  # audit finished only the first record
    assert await outbox.prune(3600) == 0  # too young
    assert await outbox.prune(0) == 1  # the first: finished by both consumers
    assert await _kept_event_ids(ob) == [second.id]
    assert await _processed_marks(ob) == 0  # the pruned event's mark went with it
    assert [d.event.amount for d in await take(outbox, "audit", 1)] == [2]
    # a consumer that has started holds back what it has not finished, even before
    # its first acknowledgement
    late = outbox.consume("late")
    try:
        waiting = asyncio.ensure_future(anext(late))
        done, _ = await asyncio.wait([waiting], timeout=HANG_S)
        assert waiting in done and waiting.result().event.amount == 2
    finally:
        await late.aclose()
    assert await outbox.prune(0) == 0  # "late" has not finished the second record
    assert await _kept_event_ids(ob) == [second.id]


async def _kept_event_ids(ob: Backend) -> list[str]:
    """The ids of the events of the records the outbox still holds."""
    if ob.name == "memory":
        kept = [d for d in ob.outbox.store.outbox if d is not None]  # type: ignore[attr-defined]
    else:
        from persistence.engine import get_async_db

        records = get_async_db("default")["persistence_commits"]
        kept = await records.find({"published": {"$exists": True}}).to_list(None)
    return [e["id"] for d in kept for e in d["events"]]


async def _processed_marks(ob: Backend) -> int:
    if ob.name == "memory":
        return len(ob.outbox.store.processed)  # type: ignore[attr-defined]
    from persistence.engine import get_async_db

    return int(await get_async_db("default")["persistence_processed"].count_documents({}))


async def test_a_partition_consumer_waits_for_its_own_events_past_other_partitions(
    ob: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record with no event in the partition is passed over once: polling used to find
    it again at once, without end (on mongomock the event loop never ran anything else)."""
    uow = ob.make_uow()
    keys = [f"key{i}" for i in range(64)]
    theirs = next(k for k in keys if in_partition(k, (0, 2)))
    mine = next(k for k in keys if in_partition(k, (1, 2)))

    async def deposit(uow: Any, key: str, amount: int) -> None:
        uow.publish(Deposited(key, amount))

    await uow.run(lambda uow: deposit(uow, theirs, 1))
    await uow.run(lambda uow: deposit(uow, mine, 2))
    passed_over: Counter[str] = Counter()
    feed_skip = ob.outbox.feed.skip

    async def skip(position: str, record: StoredRecord) -> None:
        passed_over[record.id] += 1
        assert passed_over[record.id] <= 100, f"{record.id} passed over without end"
        await feed_skip(position, record)

    monkeypatch.setattr(ob.outbox.feed, "skip", skip)
    got: list[Delivery] = []

    async def publish_once_idle() -> None:  # the consumer has only others' records left
        await until(lambda: len(got) == 1, "the partition's first event")
        await uow.run(lambda uow: deposit(uow, mine, 3))

    publishing = asyncio.create_task(publish_once_idle())
    try:
        got.extend(await take(ob.outbox, "ledger", 1, partition=(1, 2)))
        got.extend(await take(ob.outbox, "ledger", 1, partition=(1, 2)))
        await asyncio.wait_for(publishing, HANG_S)
    finally:
        publishing.cancel()
    assert [(d.key, d.event.amount) for d in got] == [(mine, 2), (mine, 3)]
    assert [d.event.amount for d in await take(ob.outbox, "ledger", 1, partition=(0, 2))] == [1]


@domain_event("attack.blob", key="key")
@attrs.frozen
class Blob:
    key: str
    text: str


async def test_a_block_whose_events_cannot_fit_one_commit_is_refused_at_publish(
    ob: Backend,
) -> None:
    """Memory used to store a 17 MB commit record the server (and mongomock) refused
    at commit with PyMongo's DocumentTooLarge (on mongomock after the block's writes)."""
    uow = ob.make_uow()
    account = Account(owner="ann")
    big = "x" * 1_000_000
    accepted = 0

    async def block(uow: Any) -> None:
        nonlocal accepted
        await uow.repo(Account).add(account)
        with pytest.raises(ValueError, match="more than one commit can store"):
            for _ in range(20):
                uow.publish(Blob(account.id, big))
                accepted += 1
        assert len(uow.published) == accepted  # the refused event is not recorded

    await uow.run(block)
    assert accepted * 1_000_000 < MAX_EVENTS_BYTES < (accepted + 1) * 1_000_000
    got = await take(ob.outbox, "billing", accepted)  # near the limit: stored, delivered,
    assert [d.seq for d in got] == list(range(1, accepted + 1))
    assert all(d.event.text == big for d in got)
    assert len(await take(ob.outbox, "audit", accepted)) == accepted  # finished by two
    await nothing_more(ob.outbox, "billing")
    async with uow.reading() as reader:
        assert (await reader.repo(Account).get(account.id)).owner == "ann"


async def test_a_consumer_cancelled_at_any_step_then_restarted_loses_and_repeats_nothing(
    ob: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel the consumer at each of its steps in turn (before and after the handler's
    block, each acknowledgement's writes, each parking), restart it: every event takes
    effect once through ``handle_once``, and the poisoned one is parked, once."""
    if ob.name == "mongo":
        pytest.skip(
            "open: on the server a consumer cancelled just after it starts can stay "
            "cancelling for good (found 2026-12-02, not yet fixed; see the closing note)"
        )
    uow = ob.make_uow()
    amounts = [1, 2, 4, 8, 16, 32]
    poisoned = 8
    applied = [a for a in amounts if a != poisoned]
    feed = ob.outbox.feed
    steps: list[str] = []
    cancel_at = [-1]

    async def step(name: str) -> None:
        steps.append(name)
        if len(steps) - 1 == cancel_at[0]:
            current = asyncio.current_task()
            assert current is not None
            current.cancel()
            await asyncio.sleep(0)

    def around(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(*args: Any) -> Any:
            await step(f"{name}<")
            result = await method(*args)
            await step(f"{name}>")
            return result

        return wrapped

    for name in ("done", "skip", "park"):
        monkeypatch.setattr(feed, name, around(name, getattr(feed, name)))
    handled: list[int] = []

    async def apply(delivery: Delivery) -> None:
        async def work(uow: Any) -> None:
            if delivery.event.amount == poisoned:  # before writing: mongomock keeps writes
                raise ValueError("poisoned")
            stored = await uow.repo(Account).get(delivery.event.account)
            stored.balance += delivery.event.amount
            await uow.repo(Account).save(stored)

        await step("handler<")
        if await handle_once(uow, delivery, work):
            handled.append(delivery.event.amount)
        await step("handler>")

    async def open_accounts(uow: Any, accounts: list[Account]) -> None:
        await uow.repo(Account).add_many(accounts)

    async def deposit(uow: Any, account: Account, amount: int) -> None:
        uow.publish(Deposited(account.id, amount))

    async def mark(uow: Any) -> None:
        uow.publish(Pinged(-1))

    async def balances(accounts: list[Account]) -> list[int]:
        async with uow.reading() as reader:
            return [(await reader.repo(Account).get(a.id)).balance for a in accounts]

    async def parked(accounts: list[Account]) -> list[int]:
        ids = {a.id for a in accounts}
        letters = await ob.outbox.dead_letters("ledger")
        return [x.event.data["amount"] for x in letters if x.event.data["account"] in ids]

    k = 0
    reached = True
    while reached:
        accounts = [Account(owner=f"o{i}") for i in range(2)]
        await uow.run(lambda uow, accounts=accounts: open_accounts(uow, accounts))
        for i, amount in enumerate(amounts):
            account = accounts[i % 2]
            await uow.run(lambda uow, a=account, n=amount: deposit(uow, a, n))
        handled.clear()
        for cancelling in (k, -1):  # cancelled at step k, then restarted to the end
            steps.clear()
            cancel_at[0] = cancelling
            running = asyncio.create_task(ob.outbox.run("ledger", apply))

            async def stopped(running: asyncio.Task[None] = running, batch: list[Account]
                              = accounts) -> bool:
                if running.done():
                    return True
                return sorted(handled) == applied and await parked(batch) == [poisoned]

            try:
                await until_found(stopped, f"the consumer cancelled at step {k}")
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            if cancelling == k:
                reached = len(steps) > k
                if not reached:
                    break  # no step k: every step has had its turn
        cancel_at[0] = -1
        assert sorted(handled) == applied, (k, handled)
        got = await balances(accounts)
        assert got == [1 + 4 + 16, 2 + 32], (k, got)
        assert await parked(accounts) == [poisoned], k
        await uow.run(mark)
        while True:  # what was handled but not acknowledged comes again, with no effect
            (again,) = await take(ob.outbox, "ledger", 1)
            if again.event == Pinged(-1):
                break
            await apply(again)
        assert sorted(handled) == applied, (k, handled)
        assert await balances(accounts) == got
        k += 1
    assert k > 10  # the steps of six events were all tried


async def test_replaying_a_dead_letter_already_replayed_keeps_no_dead_letter(ob: Backend) -> None:
    """Two replays of one letter (two operators, two workers starting): the second one
    used to deliver again the letter the first had handled and forgotten, and on failing
    park it again (an upsert), inventing a dead letter for a handled event."""
    uow = ob.make_uow()

    async def block(uow: Any) -> None:
        uow.publish(Pinged(1))
        uow.publish(Pinged(2))

    await uow.run(block)

    async def failing(delivery: Delivery) -> None:
        raise ValueError("down")

    async def both_parked() -> bool:
        return len(await ob.outbox.dead_letters("mail")) == 2

    running = asyncio.create_task(ob.outbox.run("mail", failing))
    try:
        await until_found(both_parked, "both events parked")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    first, _ = await ob.outbox.dead_letters("mail")
    handled: list[Any] = []

    async def fixed(delivery: Delivery) -> None:
        handled.append(delivery.event)

    async def failing_again(delivery: Delivery) -> None:
        handled.append(delivery.event)
        raise ValueError("down again")

    assert await ob.outbox.replay("mail", fixed, letters=[first]) == 1
    assert await ob.outbox.replay("mail", failing_again, letters=[first]) == 0  # stale
    assert handled == [Pinged(1)]  # not delivered again: it is no longer dead

    async def racing(delivery: Delivery) -> None:  # another replay forgets it meanwhile
        assert await ob.outbox.replay("mail", fixed) == 1
        raise ValueError("down again")

    assert await ob.outbox.replay("mail", racing) == 0
    assert handled == [Pinged(1), Pinged(2)]
    assert await ob.outbox.dead_letters("mail") == []


async def test_odd_keys_and_a_changed_partition_count_lose_nothing(ob: Backend) -> None:
    """Keys empty, unicode, with ``$``, ``.`` or NUL, and no key; consumed by 2
    partitions, then (redeployed) by 3: each count's partitions share every event
    exactly once between them, in order per key (the new count starts over: at least
    once across the change)."""
    uow = ob.make_uow()
    keys: list[str | None] = ["", "ü名", "None", "$x.y", "a\x00b", None, "k1", "k2", "k3"]

    async def block(uow: Any, round_: int) -> None:
        for key in keys:
            uow.publish(Deposited(key or "", round_), key=key) if key is not None else (
                uow.publish(Pinged(round_))
            )

    for round_ in range(3):
        await uow.run(lambda uow, r=round_: block(uow, r))
    total = 3 * len(keys)
    for count in (2, 3):
        everything: list[Delivery] = []
        for index in range(count):
            mine = sum(1 for k in keys if in_partition(k, (index, count))) * 3
            assert mine, (count, index)  # the keys reach every partition
            got = await take(ob.outbox, "ledger", mine, partition=(index, count))
            assert all(in_partition(d.key, (index, count)) for d in got)
            everything.extend(got)
        assert len({d.id for d in everything}) == total
        for key in keys:
            if key is not None:
                assert [d.seq for d in everything if d.key == key] == [1, 2, 3], repr(key)
    for index in range(3):  # nothing more for any: a marker of its own comes next
        marker = next(f"m{i}" for i in range(100) if in_partition(f"m{i}", (index, 3)))
        await uow.run(lambda uow, m=marker: deposit_marker(uow, m))
        (got,) = await take(ob.outbox, "ledger", 1, partition=(index, 3))
        assert got.event == Deposited(marker, -1)


async def deposit_marker(uow: Any, key: str) -> None:
    uow.publish(Deposited(key, -1))


async def test_a_consumer_name_that_looks_like_a_partition_is_refused(ob: Backend) -> None:
    """``consume("ledger[1/2]")`` (no partition) used to take everything on memory, while
    on MongoDB the catch-up, polling and ``prune`` read the name as partition 1 of 2:
    records of the other keys were never delivered from a poll, and pruned as finished."""
    uow = ob.make_uow()
    mine = next(f"k{i}" for i in range(100) if in_partition(f"k{i}", (1, 2)))
    theirs = next(f"k{i}" for i in range(100) if in_partition(f"k{i}", (0, 2)))

    async def block(uow: Any) -> None:
        uow.publish(Deposited(theirs, 1))
        uow.publish(Deposited(mine, 2))

    await uow.run(block)
    for name in ("ledger[1/2]", "ledger]", "a[b"):
        with pytest.raises(ValueError, match=r"consumer name.*\[ or \]"):
            await take(ob.outbox, name, 1)
        with pytest.raises(ValueError, match=r"consumer name.*\[ or \]"):
            await ob.outbox.dead_letters(name)
    got = await take(ob.outbox, "ledger", 2)  # a plain name takes every event
    assert [d.event.amount for d in got] == [1, 2]
