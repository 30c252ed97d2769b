"""The outbox on MongoDB: commit records with events (``persistence_commits``), tailed
by a change stream per consumer, with the consumer's resume token kept in
``persistence_outbox_consumers`` after each acknowledged commit.

* A consumer resumes from its stored token after its own restart or the server's.
* Without a stored token (a new consumer), or when the server refuses it (history lost,
  token unreadable), it opens a stream from now, then catches up by polling the records
  it has not finished (``done`` lacks its name), in commit order per key, then follows
  the stream (skipping what the poll delivered).
* Where change streams are unavailable (mongomock, a standalone server) it polls.

Indexes (:meth:`MongoOutbox.ensure_indexes`): ``published`` on the records (sparse: only
records with events have it), ``consumer, at`` on dead letters.  Retention
(:meth:`MongoOutbox.prune`): records every known consumer finished, older than the
retention, are deleted, with the processed marks of their events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import AsyncGenerator
from typing import Any

import attrs
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import CollectionInvalid, ConnectionFailure, OperationFailure, PyMongoError

from persistence.engine import get_async_connection, get_async_db
from persistence.engine.mongomock_async import AsyncMongomockClient
from persistence.errors import StoreUnavailable

from .delivery import (
    DeadLetter,
    HandlerRetry,
    Outbox,
    StoredEvent,
    StoredRecord,
    commit_order,
    finished_by,
    in_partition,
    partition_of,
    processed_marks,
)
from .events import EVENT_TYPES, EventTypes
from .names import COMMITS as COLLECTION
from .names import CONSUMERS, DEAD_LETTERS, PROCESSED

__all__ = ["CONSUMERS", "DEAD_LETTERS", "MongoFeed", "MongoOutbox"]

_NAMESPACE_EXISTS = 48  # a create racing another's creation of the collection


log = logging.getLogger("persistence.outbox")

VERIFY_OVERLAP = 60.0
"""Seconds each check of an idle stream looks back past the previous one's cutoff."""

_PIPELINE = [{"$match": {"operationType": "insert", "fullDocument.events": {"$exists": True}}}]
_UNFINISHED = "done"


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _network(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionFailure) or bool(getattr(exc, "timeout", False)) or (
        isinstance(exc, PyMongoError) and exc.has_error_label("ResumableChangeStreamError")
    )


class MongoFeed:
    """The feed of alias ``alias``'s database; ``change_streams=False`` polls (every
    ``poll_interval`` seconds at most when idle)."""

    def __init__(
        self,
        alias: str = "default",
        *,
        change_streams: bool | None = None,
        poll_interval: float = 0.25,
        max_await: float = 0.5,
        outage_delay: float = 0.2,
        verify_every: float = 5.0,
    ) -> None:
        self.alias = alias
        self._streams = change_streams
        self.poll_interval = poll_interval
        self.max_await_ms = int(max_await * 1000)
        self.outage_delay = outage_delay
        self.skip_save = 1.0
        self._skipped_at: dict[str, float] = {}
        self.verify_every = verify_every
        self.verify_after = 2.0
        self._verified: dict[str, float] = {}
        self._checked: dict[str, datetime.datetime] = {}  # the last check's cutoff

    # -- collections ----------------------------------------------------------------------

    def _db(self) -> Any:
        return get_async_db(self.alias)

    def _records(self) -> Any:
        return self._db()[COLLECTION]

    def _uses_streams(self) -> bool:
        if self._streams is None:
            client = get_async_connection(self.alias)
            self._streams = not isinstance(client, AsyncMongomockClient)
        return self._streams

    # -- reading ----------------------------------------------------------------------------

    async def _unfinished(self, position: str) -> list[StoredRecord]:
        """The records with events ``position`` has not finished, in commit order per key;
        for a partition, only those with an event in it (the others are never marked
        done for it: polling would find them again at once, without end)."""
        cursor = self._records().find(
            {"published": {"$exists": True}, _UNFINISHED: {"$ne": position}},
            {"done": 0},
        )
        documents = await cursor.to_list(None)
        partition = partition_of(position)
        records = [StoredRecord.from_document(d) for d in documents]
        return commit_order(
            [r for r in records if any(in_partition(e.key, partition) for e in r.events)]
        )

    async def _stored_token(self, position: str) -> Any:
        """The position's stored token; the position is registered if new (from then on
        :meth:`MongoOutbox.prune` keeps what it has not finished)."""
        found = await self._db()[CONSUMERS].find_one_and_update(
            {"_id": position},
            {"$setOnInsert": {"token": None, "at": _utcnow()}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return None if found is None else found.get("token")

    async def _save_token(self, position: str, token: Any) -> None:
        await self._db()[CONSUMERS].update_one(
            {"_id": position}, {"$set": {"token": token, "at": _utcnow()}}, upsert=True
        )

    async def records(self, position: str) -> AsyncGenerator[StoredRecord, None]:
        token: Any = None
        loaded = False
        while True:
            try:
                if not loaded:
                    token = await self._stored_token(position)
                    loaded = True
                if not self._uses_streams():
                    async with contextlib.aclosing(self._polled(position)) as polled:
                        async for record in polled:
                            yield record
                    continue
                async with contextlib.aclosing(self._streamed(position, token)) as streamed:
                    async for record in streamed:
                        yield record
                        if record.token is not None:
                            token = record.token
            except _TokenRefused as refused:
                why = refused.__cause__ or refused
                log.info("outbox: %s catches up by polling (%s)", position, why)
                token = None  # catch up from the records not yet finished
            except PyMongoError as exc:
                if not _network(exc) and not isinstance(exc, OperationFailure):
                    raise
                # an outage (or the stream broke): resume from the last finished record
                log.info("outbox: %s reconnects after %s: %s", position, type(exc).__name__, exc)
                await asyncio.sleep(self.outage_delay)
                loaded = False

    async def _polled(self, position: str) -> AsyncGenerator[StoredRecord, None]:
        idle = 0.01
        while True:
            batch = await self._unfinished(position)
            for record in batch:
                yield record
            if batch:
                idle = 0.01
                continue
            await asyncio.sleep(idle)
            idle = min(idle * 2, self.poll_interval)

    async def _created_records(self) -> Any:
        """The records' collection, created first if the server has none yet (after a
        restart that lost its data, say).  The embedded server gives a collection its
        identity on the first change stream opened on it; once, racing the first
        commit's creation of the collection, that never answered (docs/server-gaps.md).
        Created here, the collection has its identity before any stream opens."""
        try:
            await self._db().create_collection(COLLECTION)
        except CollectionInvalid:
            pass  # it exists: the usual case
        except OperationFailure as exc:
            if exc.code != _NAMESPACE_EXISTS:  # created meanwhile by a commit
                raise
        return self._records()

    async def _streamed(self, position: str, token: Any) -> AsyncGenerator[StoredRecord, None]:
        records = await self._created_records()
        options: dict[str, Any] = {"max_await_time_ms": self.max_await_ms}
        if token is not None:
            try:
                stream = await records.watch(_PIPELINE, resume_after=token, **options)
            except OperationFailure as exc:
                if _network(exc):
                    raise
                raise _TokenRefused from exc
            backlog: list[StoredRecord] = []
        else:
            stream = await records.watch(_PIPELINE, **options)
            backlog = await self._unfinished(position)
        self._checked.pop(position, None)  # a new stream: its first check sees every record
        async with stream:
            start = stream.resume_token
            partition = partition_of(position)
            resumed = token is not None  # until its first record of ours not yet finished
            seen = set()
            for record in backlog:
                seen.add(record.id)
                yield record
            if token is None:  # caught up: from now on the stream's position is exact
                await self._save_token(position, start)
            while True:
                try:
                    change = await stream.try_next()
                except OperationFailure as exc:
                    if _network(exc):
                        raise
                    raise _TokenRefused from exc
                if change is None:  # caught up with the stream: is it telling everything?
                    if await self._stream_missed(position, partition_of(position)):
                        raise _TokenRefused("records were committed the stream never showed")
                    continue
                document = change["fullDocument"]
                if str(document["_id"]) in seen:
                    continue
                record = StoredRecord.from_document(document, token=change["_id"])
                if resumed and any(in_partition(e.key, partition) for e in record.events):
                    if await self._finished_before(position, document["_id"]):
                        continue
                    resumed = False
                yield record

    async def _finished_before(self, position: str, record_id: Any) -> bool:
        """Whether ``position`` finished the record ``record_id`` that its stream, resumed
        from the stored token, shows again: a consumer that died inside an
        acknowledgement (its ``done`` mark written, its token not) gets that record
        again, and :meth:`MongoOutbox.prune` may have deleted it since (every consumer
        finished it) with its processed marks, so ``handle_once`` could no longer tell
        it was applied.  A record that is gone was finished (prune deletes nothing else)."""
        found = await self._records().find_one({"_id": record_id}, {"done": 1})
        return found is None or position in found.get("done", ())

    async def _stream_missed(self, position: str, partition: tuple[int, int] | None) -> bool:
        """Every ``verify_every`` seconds of an idle stream: whether a record of this
        position's, published ``verify_after`` seconds ago or more, is still unfinished.
        An idle stream has shown everything committed by then, so such a record means the
        stream went silent (a server that took a resume token from a history it no longer
        has: docs/server-gaps.md); the consumer then catches up by polling.  The first
        check of a stream looks at every record; later ones at those published since the
        previous check (less ``VERIFY_OVERLAP`` seconds for commits that took long)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._verified.get(position, 0.0) < self.verify_every:
            return False
        self._verified[position] = now
        cutoff = _utcnow() - datetime.timedelta(seconds=self.verify_after)
        published: dict[str, Any] = {"$lt": cutoff}
        since = self._checked.get(position)
        if since is not None:
            published["$gte"] = since - datetime.timedelta(seconds=VERIFY_OVERLAP)
        self._checked[position] = cutoff
        cursor = self._records().find(
            {"published": published, _UNFINISHED: {"$ne": position}}, {"events.key": 1}
        )
        async for document in cursor:
            if any(in_partition(e.get("key"), partition) for e in document["events"]):
                return True
        return False

    # -- writing ----------------------------------------------------------------------------

    async def done(self, position: str, record: StoredRecord) -> None:
        try:
            if record.id:
                await self._records().update_one(
                    {"_id": ObjectId(record.id)}, {"$addToSet": {"done": position}}
                )
            if record.token is not None:
                await self._save_token(position, record.token)
        except PyMongoError as exc:
            raise StoreUnavailable(
                f"the acknowledgement of commit {record.id} by {position} did not reach the "
                "store; its events will be delivered again",
                retry_safe=True,
            ) from exc

    async def skip(self, position: str, record: StoredRecord) -> None:
        """No mark on the record (a partition's catch-up filters such records out by
        their keys); the stream's position is saved at most every ``skip_save`` s."""
        now = asyncio.get_running_loop().time()
        if record.token is not None and now - self._skipped_at.get(position, 0.0) > self.skip_save:
            self._skipped_at[position] = now
            await self.done(position, attrs.evolve(record, id=""))

    async def park(self, letter: DeadLetter) -> None:
        await self._db()[DEAD_LETTERS].replace_one(
            {"_id": letter.id}, _letter_document(letter), upsert=True
        )

    async def dead_letters(self, position: str) -> list[DeadLetter]:
        cursor = self._db()[DEAD_LETTERS].find({"consumer": position}).sort([("at", 1), ("_id", 1)])
        return [_letter(d) for d in await cursor.to_list(None)]

    async def drop_dead(self, letter: DeadLetter) -> None:
        await self._db()[DEAD_LETTERS].delete_one({"_id": letter.id})

    async def update_dead(self, letter: DeadLetter) -> None:
        """Not an upsert: a letter a replay meanwhile forgot stays forgotten."""
        await self._db()[DEAD_LETTERS].replace_one({"_id": letter.id}, _letter_document(letter))


class _TokenRefused(Exception):
    """The server cannot resume from the stored token."""


def _letter_document(letter: DeadLetter) -> dict[str, Any]:
    return {
        "_id": letter.id,
        "consumer": letter.consumer,
        "commit": letter.event.commit,
        "event": letter.event.to_stored(),
        "error": letter.error,
        "attempts": letter.attempts,
        "at": letter.at,
    }


def _letter(document: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        document["_id"],
        document["consumer"],
        StoredEvent.from_stored(document["commit"], document["event"]),
        document["error"],
        document["attempts"],
        document["at"],
    )


class MongoOutbox(Outbox):
    """:class:`~persistence.outbox.delivery.Outbox` on alias ``alias`` (see the module)."""

    def __init__(
        self,
        alias: str = "default",
        *,
        types: EventTypes = EVENT_TYPES,
        retry: HandlerRetry | None = None,
        change_streams: bool | None = None,
        poll_interval: float = 0.25,
        verify_every: float = 5.0,
    ) -> None:
        feed = MongoFeed(
            alias,
            change_streams=change_streams,
            poll_interval=poll_interval,
            verify_every=verify_every,
        )
        super().__init__(feed, types=types, retry=retry)
        self.alias = alias

    async def ensure_indexes(self) -> None:
        """The outbox's indexes (idempotent): records by ``published`` (sparse), dead
        letters by ``consumer, at``."""
        db = get_async_db(self.alias)
        await db[COLLECTION].create_index("published", name="persistence_outbox_published",
                                          sparse=True)
        await db[DEAD_LETTERS].create_index([("consumer", 1), ("at", 1)],
                                            name="persistence_outbox_dead_by_consumer")

    async def prune(self, retention: float) -> int:
        """Delete the records with events published more than ``retention`` seconds ago
        that every known consumer (one with a stored position) finished, and the
        processed marks of their events.  Returns how many records went.  A consumer
        that first starts after a prune does not see what it deleted."""
        db = get_async_db(self.alias)
        consumers = [d["_id"] for d in await db[CONSUMERS].find({}, {"_id": 1}).to_list(None)]
        cutoff = _utcnow() - datetime.timedelta(seconds=retention)
        candidates = await db[COLLECTION].find(
            {"published": {"$lt": cutoff}}, {"events.id": 1, "events.key": 1, "done": 1}
        ).to_list(None)
        old = [d for d in candidates if all(finished_by(d, c) for c in consumers)]
        if not old:
            return 0
        marks = processed_marks(old, consumers)
        if marks:
            await db[PROCESSED].delete_many({"_id": {"$in": sorted(marks)}})
        result = await db[COLLECTION].delete_many({"_id": {"$in": [d["_id"] for d in old]}})
        return int(result.deleted_count)
