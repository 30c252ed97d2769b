"""Pure parts of the outbox: no MongoEngine/PyMongo at import time, the commit order
of a poll, event declarations, and a handler's outage that spends no attempt."""

from __future__ import annotations

import ast
import asyncio
import datetime
from pathlib import Path

import attrs
import pytest

from persistence.errors import StoreUnavailable
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.outbox import (
    Delivery,
    EventTypes,
    HandlerRetry,
    StoredEvent,
    StoredRecord,
    commit_order,
    domain_event,
)
from persistence.outbox.memory import MemoryOutbox
from persistence.registry import Registry

OUTBOX = Path(__file__).resolve().parents[2] / "persistence" / "outbox"
PURE = ("__init__.py", "events.py", "delivery.py", "recording.py", "idempotency.py", "names.py")


@pytest.mark.parametrize("name", PURE)
def test_the_pure_modules_import_no_driver_at_import_time(name: str) -> None:
    tree = ast.parse((OUTBOX / name).read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module or "" for n in top if isinstance(n, ast.ImportFrom) and n.level == 0]
    assert not [m for m in modules if m.split(".")[0] in {"mongoengine", "pymongo", "bson"}]


def _record(commit: str, at: int, *events: tuple[str | None, int | None]) -> StoredRecord:
    published = datetime.datetime(2026, 1, 1, 0, 0, at)
    return StoredRecord(
        commit,
        tuple(StoredEvent(f"{commit}-{i}", "t", 1, k, s, {}, commit) for i, (k, s) in
              enumerate(events)),
        published,
    )


def test_commit_order_keeps_each_keys_numbers_rising_whatever_the_clocks_say() -> None:
    # c was published "earlier" by a skewed clock but numbers a's key after b
    a = _record("a", 1, ("k", 1))
    b = _record("b", 2, ("k", 2), ("j", 1))
    c = _record("c", 0, ("k", 3))
    d = _record("d", 0, ("j", 2))
    free = _record("e", 0, (None, None))
    ordered = [r.id for r in commit_order([c, d, b, free, a])]
    assert ordered.index("a") < ordered.index("b") < ordered.index("c")
    assert ordered.index("b") < ordered.index("d")
    assert ordered[0] == "e"  # free to go first: the earliest
    assert sorted(ordered) == ["a", "b", "c", "d", "e"]


def test_an_event_class_must_be_attrs_and_name_its_key() -> None:
    types = EventTypes()
    with pytest.raises(TypeError, match="attrs class"):
        domain_event("x", types=types)(type("Plain", (), {}))
    with pytest.raises(ValueError, match="not a field"):
        keyed = attrs.frozen(type("E", (), {"__annotations__": {"a": int}}))
        domain_event("x", key="nope", types=types)(keyed)
    with pytest.raises(ValueError, match="version"):
        domain_event("x", version=0, types=types)

    @domain_event("x.one", types=types)
    @attrs.frozen
    class One:
        a: int

    with pytest.raises(ValueError, match="already used"):
        @domain_event("x.one", types=types)
        @attrs.frozen
        class Other:
            a: int


@domain_event("units.tick")
@attrs.frozen
class Tick:
    n: int


async def test_a_handler_that_finds_the_store_unavailable_spends_no_attempt() -> None:
    store = InMemoryStore()
    uow = InMemoryUnitOfWork(Registry(), store)
    outbox = MemoryOutbox(store, retry=HandlerRetry(attempts=2, base_delay=0.001))
    async with uow:
        uow.publish(Tick(1))
        await uow.commit()
    calls: list[int] = []
    done = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        calls.append(delivery.attempt)
        if len(calls) <= 3:
            raise StoreUnavailable("down", retry_safe=True)
        done.set()

    running = asyncio.create_task(outbox.run("c", handler, outage_delay=0.001))
    try:
        await asyncio.wait_for(done.wait(), 60)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert calls == [1, 1, 1, 1]  # delivered again from the position, attempt 1 each time
    assert await outbox.dead_letters("c") == []
