"""Consuming the outbox: deliveries, acknowledgements, retries with backoff, dead
letters and replay, over any :class:`Feed` (the memory store's or MongoDB's).

::

    async for delivery in outbox.consume("billing"):
        try:
            await bill(delivery.event)
        except Exception as exc:
            await delivery.fail(exc)    # delivered again after a backoff, then parked dead
        else:
            await delivery.ack()        # durable: the consumer's position moves past it

or ``await outbox.run("billing", handler)`` (the same loop around ``handler(delivery)``,
going on after an outage until it is cancelled).

Every event is delivered at least once; the events of one key in commit order.  Events
are handled one at a time per consumer (and partition): an event being retried holds
back the ones after it.  Pure: imports neither MongoEngine nor PyMongo.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import heapq
import itertools
import logging
import random
import zlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Protocol

import attrs

from persistence.errors import StoreUnavailable

from .events import EVENT_TYPES, EventTypes

__all__ = [
    "DeadLetter",
    "Delivery",
    "Feed",
    "HandlerRetry",
    "Outbox",
    "StoredEvent",
    "StoredRecord",
    "commit_order",
    "finished_by",
    "in_partition",
    "partition_of",
    "position_name",
    "processed_marks",
]

log = logging.getLogger("persistence.outbox")

Partition = tuple[int, int]


@attrs.frozen
class StoredEvent:
    """One event as the outbox holds it."""

    id: str
    type: str
    version: int
    key: str | None
    seq: int | None
    data: dict[str, Any]
    commit: str

    @classmethod
    def from_stored(cls, commit: str, stored: dict[str, Any]) -> StoredEvent:
        return cls(
            stored["id"], stored["type"], stored["v"], stored.get("key"), stored.get("seq"),
            stored["data"], commit,
        )

    def to_stored(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "v": self.version, "key": self.key,
            "seq": self.seq, "data": self.data,
        }


@attrs.frozen
class StoredRecord:
    """One commit's events; ``token``: the feed's position after it (or None)."""

    id: str
    events: tuple[StoredEvent, ...]
    published: Any = None
    token: Any = None

    @classmethod
    def from_document(cls, document: dict[str, Any], token: Any = None) -> StoredRecord:
        commit = str(document["_id"])
        return cls(
            commit,
            tuple(StoredEvent.from_stored(commit, e) for e in document.get("events", ())),
            document.get("published"),
            token,
        )


@attrs.define
class DeadLetter:
    """An event a consumer's handler kept failing on, parked with its last error."""

    id: str
    consumer: str
    event: StoredEvent
    error: str
    attempts: int
    at: datetime.datetime


class Feed(Protocol):
    """What a backend gives the outbox."""

    def records(self, position: str) -> AsyncGenerator[StoredRecord, None]:
        """Records not yet done for ``position``, the events of a key in commit order,
        without end; the consumer marks each done before asking for the next."""
        ...

    async def done(self, position: str, record: StoredRecord) -> None:
        """Every event of ``record`` is acknowledged or parked for ``position``:
        remember it durably (and the position after it)."""
        ...

    async def skip(self, position: str, record: StoredRecord) -> None:
        """``record`` holds no event for ``position`` (another partition's): move past
        it (a backend may remember that lazily: skipping it again costs nothing)."""
        ...

    async def park(self, letter: DeadLetter) -> None:
        """Keep ``letter``."""
        ...

    async def dead_letters(self, position: str) -> list[DeadLetter]:
        """``position``'s dead letters, oldest first."""
        ...

    async def drop_dead(self, letter: DeadLetter) -> None:
        """Forget a replayed dead letter."""
        ...

    async def update_dead(self, letter: DeadLetter) -> None:
        """Keep a dead letter's new error and attempts, if it is still kept."""
        ...


@attrs.frozen
class HandlerRetry:
    """How a failing event is retried: ``attempts`` deliveries in all, waiting between
    them a random time up to ``min(max_delay, base_delay * 2**n)``; then parked dead."""

    attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, failures: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (failures - 1)))


def position_name(consumer: str, partition: Partition | None = None) -> str:
    """Where a consumer (and partition) keeps its position: ``billing``, ``billing[0/3]``."""
    if not consumer or not isinstance(consumer, str):
        raise ValueError("a consumer needs a non-empty name")
    if "[" in consumer or "]" in consumer:
        raise ValueError(
            f"consumer name {consumer!r} holds [ or ], which mark a partition's position: "
            "name the consumer without them and pass partition=(index, count)"
        )
    if partition is None:
        return consumer
    index, count = partition
    if not 0 <= index < count:
        raise ValueError(f"partition {partition!r}: want (index, count) with 0 <= index < count")
    return f"{consumer}[{index}/{count}]"


def partition_of(position: str) -> Partition | None:
    """The partition a position name stands for (``billing[0/3]``: (0, 3)), or None."""
    if not position.endswith("]") or "[" not in position:
        return None
    index, count = position[position.rindex("[") + 1 : -1].split("/")
    return int(index), int(count)


def in_partition(key: str | None, partition: Partition | None) -> bool:
    if partition is None:
        return True
    index, count = partition
    return (0 if key is None else zlib.crc32(key.encode()) % count) == index


def finished_by(record: Mapping[str, Any], position: str) -> bool:
    """Whether ``position`` is done with the stored ``record`` (a partition's position
    also when no event of the record is in it): what ``prune`` asks of every consumer."""
    if position in record.get("done", ()):
        return True
    partition = partition_of(position)
    if partition is None:
        return False
    return not any(in_partition(e.get("key"), partition) for e in record["events"])


def processed_marks(records: Sequence[Mapping[str, Any]], positions: Sequence[str]) -> set[str]:
    """The ``handle_once`` marks of the events of ``records`` for the consumers of
    ``positions`` (a partition's marks are its consumer's)."""
    names = {position.split("[")[0] for position in positions}
    return {f"{name}/{e['id']}" for r in records for e in r["events"] for name in names}


def commit_order(records: Sequence[StoredRecord]) -> list[StoredRecord]:
    """``records`` in an order that keeps, per key, the events' numbers rising; among
    records free to go, by publication time then id (what a poll of the outbox gives)."""
    ranked = sorted(records, key=lambda r: (r.published is None, r.published or 0, r.id))
    waits: dict[int, int] = {}
    after: dict[int, list[int]] = {}
    by_key: dict[str, list[tuple[int, int]]] = {}
    for rank, record in enumerate(ranked):
        waits[rank] = 0
        for event in record.events:
            if event.key is not None and event.seq is not None:
                by_key.setdefault(event.key, []).append((event.seq, rank))
    for chain in by_key.values():
        chain.sort()
        for (_, before), (_, later) in itertools.pairwise(chain):
            if before != later:
                after.setdefault(before, []).append(later)
                waits[later] += 1
    ready = [rank for rank, n in waits.items() if n == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        rank = heapq.heappop(ready)
        ordered.append(ranked[rank])
        for later in after.get(rank, ()):
            waits[later] -= 1
            if waits[later] == 0:
                heapq.heappush(ready, later)
    return ordered


_WAITING, _ACKED, _FAILED = "waiting", "acked", "failed"


class Delivery:
    """One delivery of one event to one consumer: ``event`` (the domain event), ``id``
    (the event's id, stable across deliveries), ``key``, ``seq``, ``attempt`` (1, 2,
    ...).  Answer it with :meth:`ack` or :meth:`fail` before asking for the next."""

    def __init__(
        self,
        feed: Feed | None,
        position: str,
        record: StoredRecord | None,
        stored: StoredEvent,
        event: Any,
        attempt: int,
        last: bool,
    ) -> None:
        self._feed = feed
        self.position = position
        self.consumer = position.split("[")[0]
        """The consumer's name (its partitions share it)."""
        self._record = record
        self.stored = stored
        self.event = event
        self.attempt = attempt
        self._last = last
        self._state = _WAITING
        self.error: BaseException | None = None

    @property
    def id(self) -> str:
        return self.stored.id

    @property
    def key(self) -> str | None:
        return self.stored.key

    @property
    def seq(self) -> int | None:
        return self.stored.seq

    @property
    def type(self) -> str:
        return self.stored.type

    async def ack(self) -> None:
        """The event is handled: it is not delivered to this consumer again (durable
        when this returns for the last event of a commit; before that, a crash delivers
        the commit's events again)."""
        if self._state != _WAITING:
            raise RuntimeError(f"delivery of {self.id} was already answered ({self._state})")
        if self._last and self._feed is not None and self._record is not None:
            await self._feed.done(self.position, self._record)
        self._state = _ACKED

    async def fail(self, error: BaseException) -> None:
        """The handler failed with ``error``: delivered again after a backoff, parked as a
        dead letter once the retries are spent."""
        if self._state != _WAITING:
            raise RuntimeError(f"delivery of {self.id} was already answered ({self._state})")
        self.error = error
        self._state = _FAILED

    def __repr__(self) -> str:
        return f"<Delivery {self.type} {self.id} to {self.position} attempt {self.attempt}>"


Handler = Callable[[Delivery], Awaitable[Any]]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Outbox:
    """The outbox's consumer side over ``feed``; ``types``: the event classes to load
    stored events into; ``retry``: how failing handlers are retried."""

    def __init__(
        self,
        feed: Feed,
        *,
        types: EventTypes = EVENT_TYPES,
        retry: HandlerRetry | None = None,
    ) -> None:
        self.feed = feed
        self.types = types
        self.retry = retry or HandlerRetry()

    async def consume(
        self, consumer: str, *, partition: Partition | None = None
    ) -> AsyncIterator[Delivery]:
        """Deliveries for ``consumer`` (only the keys of ``partition`` = (index, count),
        if given: several processes share one consumer's work by partitions), without
        end.  Each must be acknowledged or failed before the next is asked for."""
        position = position_name(consumer, partition)
        async with contextlib.aclosing(self.feed.records(position)) as records:
            async for record in records:
                mine = [e for e in record.events if in_partition(e.key, partition)]
                if not mine:
                    await self.feed.skip(position, record)
                    continue
                for index, stored in enumerate(mine):
                    last = index == len(mine) - 1
                    attempt = 1
                    while True:
                        try:
                            event = self.types.named(stored.type).load(stored.version, stored.data)
                        except Exception as exc:  # no retry makes it readable: parked at once
                            await self._park(position, stored, exc, attempt)
                            if last:
                                await self.feed.done(position, record)
                            break
                        delivery = Delivery(
                            self.feed, position, record, stored, event, attempt, last
                        )
                        yield delivery
                        if delivery._state == _ACKED:
                            break
                        if delivery._state != _FAILED:
                            raise RuntimeError(
                                f"{delivery!r} was neither acknowledged nor failed: call "
                                "`await delivery.ack()` or `await delivery.fail(error)` before "
                                "the next delivery"
                            )
                        assert delivery.error is not None
                        if attempt >= self.retry.attempts:
                            await self._park(position, stored, delivery.error, attempt)
                            if last:
                                await self.feed.done(position, record)
                            break
                        await asyncio.sleep(self.retry.delay(attempt))
                        attempt += 1

    async def _park(
        self, position: str, stored: StoredEvent, error: BaseException, attempts: int
    ) -> None:
        log.warning("outbox: %s parks event %s after %d attempts: %s", position, stored.id,
                    attempts, _describe(error))
        await self.feed.park(
            DeadLetter(
                f"{position}/{stored.id}", position, stored, _describe(error), attempts,
                datetime.datetime.now(datetime.timezone.utc),
            )
        )

    async def run(
        self,
        consumer: str,
        handler: Handler,
        *,
        partition: Partition | None = None,
        outage_delay: float = 0.5,
    ) -> None:
        """``handler(delivery)`` for every delivery, acknowledged when it returns and failed
        when it raises; until cancelled.  When the store cannot be reached (the handler
        or an acknowledgement raises ``StoreUnavailable``) no attempt is spent:
        consumption starts again after ``outage_delay`` seconds from the last
        acknowledged position (what was not acknowledged comes again)."""
        while True:
            try:
                async for delivery in self.consume(consumer, partition=partition):
                    try:
                        await handler(delivery)
                    except StoreUnavailable:
                        raise  # the store, not the event: no attempt spent, delivered again
                    except Exception as exc:
                        await delivery.fail(exc)
                    else:
                        await delivery.ack()
            except Exception as exc:  # the store, not the handler: start again
                log.warning("outbox: %s stopped (%s); starting again", consumer, _describe(exc))
                await asyncio.sleep(outage_delay)

    async def dead_letters(
        self, consumer: str, *, partition: Partition | None = None
    ) -> list[DeadLetter]:
        """The events ``consumer`` parked, oldest first."""
        return await self.feed.dead_letters(position_name(consumer, partition))

    async def replay(
        self,
        consumer: str,
        handler: Handler,
        *,
        partition: Partition | None = None,
        letters: Iterable[DeadLetter] | None = None,
    ) -> int:
        """Deliver ``consumer``'s dead letters (or just those of ``letters`` still dead) to
        ``handler`` again, oldest first: each one handled is forgotten, each one failing
        again is kept with its new error (unless a replay meanwhile forgot it).  Returns
        how many were handled."""
        position = position_name(consumer, partition)
        dead = await self.feed.dead_letters(position)
        chosen = dead
        if letters is not None:  # those still dead (a replay meanwhile forgot the others)
            still = {letter.id for letter in dead}
            chosen = [letter for letter in letters if letter.id in still]
        handled = 0
        for letter in chosen:
            stored = letter.event
            try:
                event = self.types.named(stored.type).load(stored.version, stored.data)
                delivery = Delivery(None, position, None, stored, event, letter.attempts + 1, True)
                await handler(delivery)
            except Exception as exc:
                letter.error = _describe(exc)
                letter.attempts += 1
                await self.feed.update_dead(letter)
                continue
            await self.feed.drop_dead(letter)
            handled += 1
        return handled
