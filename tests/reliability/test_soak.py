"""The soak: concurrent tasks run mixed operations through the repositories and units of
work until a deadline; then every task still in flight is cancelled (never waited for)
and every invariant is checked against what was acknowledged.

Two sizes.  ``test_soak`` runs with every test run (CI): its operation budget is far
more than it can finish, so its deadline always comes first and the cancellation path is
what runs.  ``test_soak_full`` (500 tasks, 10,000 operations) is opt-in: ``pytest -m slow``.

Nothing here passes or fails by the machine's speed: a slow machine runs fewer operations
before the deadline (the deadline waits for ``min_operations`` acknowledged ones), and the
invariants are the same.  Only a hang fails: no operation acknowledged for ``HANG_S``, or
a task still running ``HANG_S`` after its cancellation; the failure shows what every
remaining task was awaiting.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import Account, Product
from domain.errors import InsufficientFunds
from domain.library import Author, Book
from domain.services import transfer_funds
from eventually import HANG_S, until
from persistence.engine.bridge import live_bridge_greenlets
from persistence.engine.transactions import open_transaction_sessions
from persistence.errors import ConcurrencyConflict, NotFound, UnitOfWorkError
from persistence.mongo import MongoUnitOfWork
from persistence.specs import ALL, Change, Changes, F

T = TypeVar("T")

ACCOUNTS, BALANCE, PRODUCTS, SEED_AUTHORS = 10, 1_000, 20, 40
KINDS = ["create", "get", "get", "increment", "remove", "transfer", "transfer"]


@dataclass(frozen=True)
class SoakSize:
    tasks: int
    operations: int  # the budget: no operation starts once it is spent
    deadline_s: float  # then every task still running is cancelled
    min_operations: int  # the deadline waits until this many were acknowledged


# The CI size: the budget is out of reach, so the deadline (and the cancellation) comes.
CI = SoakSize(tasks=40, operations=1_000_000, deadline_s=5.0, min_operations=150)
FULL = SoakSize(tasks=500, operations=10_000, deadline_s=600.0, min_operations=1_000)


# --- The unit-of-work API, used only here ----------------------------------------------


def _unit() -> MongoUnitOfWork:
    return MongoUnitOfWork(registry)


async def _in_block(work: Callable[[Any], Awaitable[T]]) -> T:
    """``work(uow)`` in one unit of work, committed, re-run on write conflicts
    (the default retry policy)."""
    return await _unit().run(work)


@asynccontextmanager
async def _reading() -> AsyncIterator[Any]:
    """A unit of work to read from (nothing is written)."""
    async with _unit() as uow:
        yield uow


async def _transfer(source_id: str, target_id: str, amount: int) -> None:
    await transfer_funds(_unit(), source_id, target_id, amount)


# --- What was acknowledged, and what may or may not have landed --------------------------


@dataclass
class Ledger:
    accounts: list[Account]
    products: list[Product]
    seeded: set[str]  # the authors written before the soak
    live_authors: list[str]  # acknowledged (seeded or created), no removal started
    budget: int = 0
    removing: set[str] = field(default_factory=set)  # a removal started
    removed: set[str] = field(default_factory=set)  # a removal acknowledged
    created: set[str] = field(default_factory=set)  # a creation acknowledged
    unsure: set[str] = field(default_factory=set)  # a create/remove not acknowledged
    increments: Counter[str] = field(default_factory=Counter)
    unsure_increments: Counter[str] = field(default_factory=Counter)
    moved: Counter[str] = field(default_factory=Counter)  # net acknowledged transfers
    unsure_in: Counter[str] = field(default_factory=Counter)
    unsure_out: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    interrupted: Counter[str] = field(default_factory=Counter)  # in flight at cancellation
    errors: list[BaseException] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return sum(n for kind, n in self.done.items() if "gave up" not in kind)

    def not_acknowledged(self, kind: str, write: tuple[Any, ...]) -> None:
        """A write that was interrupted: it may have landed whole, or not at all."""
        if kind in ("create", "remove"):
            self.unsure.add(write[0])
        elif kind == "increment":
            self.unsure_increments[write[0]] += 1
        elif kind == "transfer":
            source, target, amount = write
            self.unsure_out[source] += amount
            self.unsure_in[target] += amount


async def _seed() -> Ledger:
    accounts = [Account(owner=f"a{i}", balance=BALANCE) for i in range(ACCOUNTS)]
    products = [Product(name=f"p{i}") for i in range(PRODUCTS)]
    authors = [Author(name=f"seed{i}") for i in range(SEED_AUTHORS)]

    async def seed(uow: Any) -> None:
        await uow.accounts.add_many(accounts)
        await uow.products.add_many(products)
        await uow.authors.add_many(authors)
        await uow.books.add_many([Book(title="b", author_id=a.id) for a in authors])

    await _in_block(seed)
    ids = [a.id for a in authors]
    return Ledger(accounts, products, seeded=set(ids), live_authors=ids)


async def _one_operation(kind: str, ledger: Ledger, rng: random.Random) -> None:
    """One operation, recorded once acknowledged, or as unsure when it is interrupted
    (cancelled, or its retries given up)."""
    write: tuple[Any, ...] = ()
    try:
        if kind == "create":
            author_id = Author(name="new").id
            write = (author_id,)

            async def create(uow: Any) -> None:
                await uow.authors.add(Author(id=author_id, name="new"))
                await uow.books.add(Book(title="first", author_id=author_id))

            await _in_block(create)
            ledger.created.add(author_id)
            ledger.live_authors.append(author_id)
        elif kind == "get":
            if ledger.live_authors:
                author_id = rng.choice(ledger.live_authors)
                async with _reading() as uow:
                    try:
                        await uow.authors.get(author_id)
                    except NotFound:
                        assert author_id in ledger.removing  # only if removed meanwhile
        elif kind == "increment":
            product_id = rng.choice(ledger.products).id
            write = (product_id,)

            async def bump(uow: Any) -> None:
                await uow.products.update_where(
                    F("id") == product_id, Changes((Change("inc", "stock", 1),))
                )

            await _in_block(bump)
            ledger.increments[product_id] += 1
        elif kind == "remove":
            if len(ledger.live_authors) > 5:
                author_id = ledger.live_authors.pop(rng.randrange(len(ledger.live_authors)))
                ledger.removing.add(author_id)
                write = (author_id,)

                async def remove(uow: Any) -> None:
                    await uow.authors.remove(author_id)

                await _in_block(remove)
                ledger.removed.add(author_id)
        else:
            source, target = (a.id for a in rng.sample(ledger.accounts, 2))
            amount = rng.randint(1, 50)
            write = (source, target, amount)
            try:
                await _transfer(source, target, amount)
                ledger.moved[source] -= amount
                ledger.moved[target] += amount
            except InsufficientFunds:
                pass  # nothing moved
    except asyncio.CancelledError:
        if write:
            ledger.not_acknowledged(kind, write)
        ledger.interrupted[kind] += 1
        raise
    except (ConcurrencyConflict, UnitOfWorkError) as exc:
        ledger.not_acknowledged(kind, write)
        ledger.done[f"{kind} gave up"] += 1  # retries spent: not acknowledged
        if kind == "remove":
            ledger.errors.append(exc)  # nothing else writes an author: it must not conflict
        return
    ledger.done[kind] += 1


async def _worker(ledger: Ledger, rng: random.Random) -> None:
    while ledger.budget > 0:
        ledger.budget -= 1
        try:
            await _one_operation(rng.choice(KINDS), ledger, rng)
        except Exception as exc:  # anything else is a failure of the layer
            ledger.errors.append(exc)
            return


# --- Running, the deadline, the cancellation ---------------------------------------------


def _first(obj: Any, names: tuple[str, ...]) -> Any:
    return next((v for v in (getattr(obj, n, None) for n in names) if v is not None), None)


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Where ``task`` is suspended: each coroutine of its await chain, then what the
    innermost one waits for."""
    lines = [f"{task.get_name()}:"]
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = _first(awaitable, ("cr_frame", "gi_frame", "ag_frame"))
        if frame is None:  # a future's iterator: name the future the task waits on
            lines.append(f"    awaiting {getattr(task, '_fut_waiter', None) or awaitable!r}")
            break
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+
        lines.append(f"    {code.co_filename}:{frame.f_lineno} in {name}")
        awaitable = _first(awaitable, ("cr_await", "gi_yieldfrom", "ag_await"))
    return "\n".join(lines)


def _hang(what: str, tasks: list[asyncio.Task[Any]]) -> str:
    remaining = [t for t in tasks if not t.done()]
    stacks = "\n".join(_awaiting(t) for t in remaining)
    return f"{what}; {len(remaining)} task(s) remain, awaiting:\n{stacks}"


async def _until_deadline(
    tasks: list[asyncio.Task[None]], ledger: Ledger, size: SoakSize, hang_s: float = HANG_S
) -> str:
    """Wait for the deadline (with ``size.min_operations`` acknowledged) or the budget's
    end; fail with every task's stack if nothing is acknowledged for ``hang_s``."""
    deadline = time.monotonic() + size.deadline_s
    progress_at, acknowledged = time.monotonic(), ledger.acknowledged
    while True:
        finished, _ = await asyncio.wait(tasks, timeout=0.25)
        if len(finished) == len(tasks):
            return "budget spent"
        now = time.monotonic()
        if ledger.acknowledged != acknowledged:
            progress_at, acknowledged = now, ledger.acknowledged
        if now >= deadline and acknowledged >= size.min_operations:
            return "deadline"
        if ledger.errors:
            return "a failure"
        if now - progress_at > hang_s:
            message = _hang(f"no operation acknowledged for {hang_s:g} s", tasks)
            for task in tasks:
                task.cancel()
            pytest.fail(message)


async def _cancel_all(tasks: list[asyncio.Task[None]], hang_s: float = HANG_S) -> int:
    """Cancel every task still running; fail with their stacks if any ignores it."""
    running = [t for t in tasks if not t.done()]
    for task in running:
        task.cancel()
    _, pending = await asyncio.wait(running, timeout=hang_s) if running else (set(), set())
    if pending:
        pytest.fail(_hang(f"still running {hang_s:g} s after cancellation", tasks))
    return len(running)


# --- The invariants ------------------------------------------------------------------------


async def _check_invariants(ledger: Ledger) -> list[str]:
    checked = []
    assert not ledger.errors, ledger.errors[:3]
    checked.append("no unexpected error")

    # a cancelled transaction is aborted and its session ended by a shielded cleanup
    # that outlives its task: wait for it, not for a duration
    await until(lambda: open_transaction_sessions() == 0, "every transaction session ended")
    checked.append("no open transaction session")
    assert live_bridge_greenlets() == 0
    checked.append("no live bridge greenlet")

    async with _reading() as uow:
        accounts = {a.id: a.balance for a in await uow.accounts.find()}
        authors = {a.id for a in await uow.authors.find()}
        books = await uow.books.find()
        book_count = await uow.books.count(ALL)
        stock = {p.id: p.stock for p in await uow.products.find()}

    assert sum(accounts.values()) == ACCOUNTS * BALANCE
    assert all(balance >= 0 for balance in accounts.values())
    checked.append("balances conserved and never negative")
    for account_id, balance in accounts.items():
        expected = BALANCE + ledger.moved[account_id]
        low, high = (
            expected - ledger.unsure_out[account_id],
            expected + ledger.unsure_in[account_id],
        )
        assert low <= balance <= high, (account_id, balance, low, high)
    checked.append("every acknowledged transfer applied")

    must_exist = (ledger.seeded | ledger.created) - ledger.removed - ledger.unsure
    assert must_exist <= authors, must_exist - authors
    checked.append("every acknowledged create present")
    assert not authors & ledger.removed
    checked.append("every acknowledged removal applied")
    assert authors <= must_exist | ledger.unsure, authors - must_exist - ledger.unsure
    checked.append("no author that was never written")

    by_author = Counter(b.author_id for b in books)
    assert set(by_author) <= authors, set(by_author) - authors
    checked.append("no orphan book")
    assert all(by_author[a] == 1 for a in authors), {a: by_author[a] for a in authors}
    assert book_count == len(books) == len(authors)
    checked.append("nothing half-applied (each author with exactly its one book)")

    for product in ledger.products:
        low = ledger.increments[product.id]
        high = low + ledger.unsure_increments[product.id]
        assert low <= stock[product.id] <= high, (product.id, stock[product.id], low, high)
    checked.append("every acknowledged increment applied, none twice")
    return checked


async def _soak(size: SoakSize, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(2026)
    assert open_transaction_sessions() == 0 and live_bridge_greenlets() == 0
    ledger = await _seed()
    ledger.budget = size.operations
    started = time.monotonic()
    tasks = [
        asyncio.create_task(_worker(ledger, rng), name=f"soak-worker-{i}")
        for i in range(size.tasks)
    ]
    try:
        ended_by = await _until_deadline(tasks, ledger, size)
        cancelled = await _cancel_all(tasks)
    finally:
        for task in tasks:
            task.cancel()
    elapsed = time.monotonic() - started
    checked = await _check_invariants(ledger)
    with capsys.disabled():  # shown in CI's output too
        print(
            f"\nsoak ({size.tasks} tasks, budget {size.operations}): ended by {ended_by} after "
            f"{elapsed:.1f} s; {ledger.acknowledged} operations acknowledged "
            f"{dict(ledger.done)}; {cancelled} tasks cancelled, operations interrupted "
            f"{dict(ledger.interrupted)}; invariants checked: {len(checked)} "
            f"({'; '.join(checked)})"
        )
    # contention resolves: with the default retry policy no operation gives up
    assert not [kind for kind in ledger.done if "gave up" in kind], dict(ledger.done)
    if size is CI:
        assert ended_by == "deadline" and cancelled == size.tasks  # the path CI must run


async def test_soak(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    await _soak(CI, capsys)


@pytest.mark.slow
async def test_soak_full(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    await _soak(FULL, capsys)


# --- The hang report itself --------------------------------------------------------------


async def _stuck(release: asyncio.Event, *, ignore_cancel: bool) -> None:
    while True:
        try:
            await release.wait()
            return
        except asyncio.CancelledError:
            if not ignore_cancel:
                raise


async def test_a_task_that_ignores_cancellation_fails_the_soak_with_its_stack() -> None:
    release = asyncio.Event()
    stuck = asyncio.create_task(_stuck(release, ignore_cancel=True), name="stuck-task")
    quits = asyncio.create_task(_stuck(release, ignore_cancel=False), name="quits-task")
    await asyncio.sleep(0)
    try:
        with pytest.raises(pytest.fail.Exception) as failure:
            await _cancel_all([stuck, quits], hang_s=0.2)
    finally:
        release.set()
        await stuck
    report = str(failure.value)
    assert "1 task(s) remain" in report and "stuck-task:" in report
    assert "quits-task" not in report  # it obeyed the cancellation
    assert re.search(r"in _stuck\n.*in (Event\.)?wait\n", report)  # the await chain ...
    assert "awaiting <Future pending" in report  # ... down to what it waits for
    assert quits.cancelled()


async def test_a_soak_without_progress_fails_with_every_task_stack() -> None:
    release = asyncio.Event()
    tasks = [
        asyncio.create_task(_stuck(release, ignore_cancel=False), name=f"idle-{i}")
        for i in range(3)
    ]
    ledger = Ledger([], [], seeded=set(), live_authors=[])
    size = SoakSize(tasks=3, operations=10, deadline_s=0.0, min_operations=1)
    with pytest.raises(pytest.fail.Exception) as failure:
        await _until_deadline(tasks, ledger, size, hang_s=0.2)
    await asyncio.wait(tasks)
    report = str(failure.value)
    assert "no operation acknowledged" in report
    assert all(f"idle-{i}:" in report for i in range(3))
    assert all(t.cancelled() for t in tasks)
