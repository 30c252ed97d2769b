"""The outbox on the memory adapter: delivery in process, after each commit, in commit
order, with the same acknowledgements, retries and dead letters as on MongoDB.

::

    store = InMemoryStore()
    uow = InMemoryUnitOfWork(registry, store)
    outbox = MemoryOutbox(store)
    ...
    assert [e.event for e in outbox.events()] == [TransferCompleted(...)]
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from .delivery import (
    DeadLetter,
    HandlerRetry,
    Outbox,
    StoredEvent,
    StoredRecord,
    finished_by,
    processed_marks,
)
from .events import EVENT_TYPES, EventTypes
from .recording import utcnow

__all__ = ["MemoryFeed", "MemoryOutbox", "PublishedEvent"]


def _longer(records: list[Any], than: int) -> bool:
    return len(records) > than


def _record_id(document: dict[str, Any] | None) -> str | None:
    return None if document is None else str(document["_id"])


class MemoryFeed:
    """The feed of an ``InMemoryStore``: its committed records in commit order; a
    consumer's position is the index of its next record (kept in the store)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def records(self, position: str) -> AsyncGenerator[StoredRecord, None]:
        store = self.store
        # registered from its start, as on MongoDB: from then on prune keeps what it has
        # not finished
        index = store.outbox_positions.setdefault(position, 0)
        while True:
            if index < len(store.outbox):
                document = store.outbox[index]
                if document is not None:  # None: pruned
                    yield StoredRecord.from_document(document, token=index + 1)
                index = max(index + 1, store.outbox_positions.get(position, 0))
                continue
            async with store.outbox_changed:
                await store.outbox_changed.wait_for(partial(_longer, store.outbox, index))

    async def done(self, position: str, record: StoredRecord) -> None:
        store = self.store
        if record.token is not None:
            store.outbox_positions[position] = max(
                store.outbox_positions.get(position, 0), int(record.token)
            )
        index = int(record.token) - 1 if record.token is not None else None
        if index is None or _record_id(store.outbox[index]) != record.id:
            found = [i for i, d in enumerate(store.outbox) if _record_id(d) == record.id]
            index = found[0] if found else None
        document = None if index is None else store.outbox[index]
        if document is not None and position not in document["done"]:
            document["done"].append(position)

    async def skip(self, position: str, record: StoredRecord) -> None:
        await self.done(position, record)

    async def park(self, letter: DeadLetter) -> None:
        self.store.dead_letters[letter.id] = letter

    async def dead_letters(self, position: str) -> list[DeadLetter]:
        return [d for d in self.store.dead_letters.values() if d.consumer == position]

    async def drop_dead(self, letter: DeadLetter) -> None:
        self.store.dead_letters.pop(letter.id, None)

    async def update_dead(self, letter: DeadLetter) -> None:
        if letter.id in self.store.dead_letters:  # not one a replay meanwhile forgot
            self.store.dead_letters[letter.id] = letter


class PublishedEvent:
    """An event committed to the memory outbox: ``event`` (loaded), and how it is stored."""

    def __init__(self, stored: StoredEvent, event: Any) -> None:
        self.stored = stored
        self.event = event

    def __repr__(self) -> str:
        return f"PublishedEvent({self.event!r})"


class MemoryOutbox(Outbox):
    """:class:`~persistence.outbox.delivery.Outbox` over an ``InMemoryStore``."""

    def __init__(
        self, store: Any, *, types: EventTypes = EVENT_TYPES, retry: HandlerRetry | None = None
    ) -> None:
        super().__init__(MemoryFeed(store), types=types, retry=retry)
        self.store = store

    def events(self) -> list[PublishedEvent]:
        """Every event committed so far, in commit order (what services' tests assert)."""
        found = []
        for document in self.store.outbox:
            if document is None:  # pruned
                continue
            record = StoredRecord.from_document(document)
            for stored in record.events:
                loaded = self.types.named(stored.type).load(stored.version, stored.data)
                found.append(PublishedEvent(stored, loaded))
        return found

    async def ensure_indexes(self) -> None:
        """Nothing to create in memory (:meth:`MongoOutbox.ensure_indexes`'s twin)."""

    async def prune(self, retention: float) -> int:
        """Forget the records with events published more than ``retention`` seconds ago
        that every known consumer (one that has started) finished, and the processed
        marks of their events, as :meth:`MongoOutbox.prune` does.  Returns how many went.
        A pruned record keeps its place (consumers' positions are places), empty."""
        store = self.store
        positions = list(store.outbox_positions)
        cutoff = utcnow() - datetime.timedelta(seconds=retention)
        old = [
            (index, document)
            for index, document in enumerate(store.outbox)
            if document is not None
            and _aware(document["published"]) < cutoff
            and all(finished_by(document, p) for p in positions)
        ]
        for index, _document in old:
            store.outbox[index] = None
        store.processed.difference_update(processed_marks([d for _, d in old], positions))
        return len(old)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as aware UTC (the store keeps what its codec options give back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment
