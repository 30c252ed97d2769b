"""The MongoDB unit of work: one transaction per unit, through ``async_run_in_transaction``,
with a commit record written in it; outages bounded by the unit's outage budget."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import weakref
from contextlib import AbstractAsyncContextManager, ExitStack
from typing import Any

from bson import ObjectId
from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo import ReturnDocument
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
)

from persistence.commit_records import COLLECTION, AmbiguousCommit, CommitRecord, new_commit_record
from persistence.engine import (
    TransactionsNotSupportedError,
    async_run_in_transaction,
    get_async_connection,
    get_async_db,
)
from persistence.engine.mongomock_async import AsyncMongomockClient
from persistence.engine.sessions import (
    bound_by_another_task,
    joined_by_other_code,
    without_sessions,
)
from persistence.engine.task_switches import switched
from persistence.engine.transactions import DURABLE
from persistence.error_chain import error_chain
from persistence.errors import ConcurrencyConflict, StoreUnavailable, TransactionsUnsupported
from persistence.mongo.deadlines import bounded, outage_watch
from persistence.mongo.errors import tls_advice, unavailable_from
from persistence.mongo.files import GridFSFileStore
from persistence.mongo.repositories import MongoRepository
from persistence.outbox.names import OUTBOX_KEYS, PROCESSED
from persistence.outbox.recording import PendingEvent, keys_needed, record_events
from persistence.ports import FileStore
from persistence.registry import Registration, Registry
from persistence.retry_policy import RetryPolicy
from persistence.unit_of_work import BaseUnitOfWork

__all__ = ["MongoUnitOfWork"]

_ILLEGAL_OPERATION = 20  # "Transaction numbers are only allowed on a replica set member"


_INDEX_OPTIONS_CONFLICT = (85, 86)  # an index of that name/key exists with other options
_TTL_INDEX = "persistence_commit_ttl"
_WRITE_CONFLICT = 112

# mongomock runs no transactions: one commit at a time numbers and stores its events
_UNTRANSACTED_OUTBOX = asyncio.Lock()


def _is_write_conflict(exc: BaseException) -> bool:
    return any(
        isinstance(link, OperationFailure) and link.code == _WRITE_CONFLICT
        for link in error_chain(exc)
    )


class _Rollback(Exception):
    """Thrown into the transaction context to abort it."""


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# id(database) -> (a weak reference to it, its commit records' collection)
_RECORDS: dict[int, tuple[weakref.ref[Any], Any]] = {}

# (id(client), database, collection) -> (a weak reference to the client, when its TTL
# index is known to exist: the task creating it, done once it exists)
_TTL_READY: dict[tuple[int, str, str], tuple[weakref.ref[Any], asyncio.Task[None]]] = {}


async def _ensure_ttl_index(
    client: Any, collection: Any, retention: float, bound: float
) -> None:
    """The commit records' TTL index, created once per client and collection (waiting
    at most ``bound`` seconds)."""
    key = (id(client), collection.database.name, collection.name)
    known = _TTL_READY.get(key)
    if known is not None and known[0]() is client:
        creating = known[1]
        if not creating.done():  # another block is creating it
            await asyncio.shield(creating)
            return
        if not creating.cancelled() and creating.exception() is None:
            return  # the usual case: known to exist
    with bounded(bound):  # the task runs in a copy of this context: under the deadline
        task = asyncio.ensure_future(_create_ttl_index(collection, retention))
    _TTL_READY[key] = (weakref.ref(client), task)
    await asyncio.shield(task)


async def _create_ttl_index(collection: Any, retention: float) -> None:
    try:
        await collection.create_index("at", name=_TTL_INDEX, expireAfterSeconds=int(retention))
    except OperationFailure as exc:
        if exc.code not in _INDEX_OPTIONS_CONFLICT:
            raise
        # an operator set another retention: theirs stands (change it with collMod)


class MongoUnitOfWork(BaseUnitOfWork):
    """``async with uow:`` runs one MongoDB transaction on ``alias`` over the aggregates
    of ``registry``, in a block of the current task (see :mod:`persistence.unit_of_work`).

    Work is committed only by ``await uow.commit()``; leaving the block without it
    (normally or by an exception, which propagates) rolls back.  After a commit (or
    rollback) the block goes on in a new transaction, begun by its first repository
    operation.  Each commit inserts a commit record into ``persistence_commits`` in the
    transaction (kept ``commit_retention`` seconds by a TTL index), from which a commit
    whose answer was lost is settled.  With ``transactions=False`` (mongomock) writes
    apply immediately and ``rollback`` cannot undo them.  With ``read_only=True`` (or
    from :meth:`reading`) no transaction is opened and writes raise ``UnitOfWorkError``.
    ``files`` is a GridFS store on the same alias (any ``FileStore`` given instead:
    mongomock has no GridFS), compensated as the port says.  The registered Documents
    follow ``alias`` inside the block.  ``retry_policy``: the unit's
    :class:`~persistence.retry_policy.RetryPolicy` (its ``outage_budget`` bounds every wait
    for an unreachable server, in and out of ``run``).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        alias: str = DEFAULT_CONNECTION_NAME,
        transactions: bool = True,
        files: FileStore | None = None,
        read_only: bool = False,
        retry_policy: RetryPolicy | None = None,
        commit_retention: float | None = None,
    ) -> None:
        self._store = files if files is not None else GridFSFileStore(alias)
        super().__init__(registry, self._store, read_only=read_only, retry_policy=retry_policy)
        self.alias = alias
        self.transactions = transactions
        if commit_retention is not None:
            self.commit_retention = commit_retention

    def _init_block(self) -> None:
        super()._init_block()
        self._context: AbstractAsyncContextManager[Any] | None = None
        self._session: Any = None
        self._deferred = False  # the next transaction begins with the next operation
        self._switches = ExitStack()
        self._wrote = False  # whether the transaction holds a write of the repositories
        self._late_marks: list[str] = []  # without transactions: marks written at commit
        # (operations of other code in the transaction are seen by the engine's sessions)

    def reading(self) -> MongoUnitOfWork:
        """A read-only unit of work on the same alias: no transaction (each read sees
        what is committed when it runs, none is retried or aborted as a transaction
        would be); writes raise ``UnitOfWorkError``."""
        return MongoUnitOfWork(
            self.registry,
            alias=self.alias,
            transactions=self.transactions,
            files=self._store,
            read_only=True,
            retry_policy=self.retry_policy,
        )

    def _make_repository(self, aggregate: Registration[Any]) -> MongoRepository[Any]:
        return MongoRepository(self, aggregate)

    async def _open(self) -> None:
        # a reader joins no transaction the task has open elsewhere; a block of a task
        # created inside another task's block joins none of that task's transactions
        isolate = self.read_only or bound_by_another_task()
        if not isolate and self.alias == DEFAULT_CONNECTION_NAME:
            return  # nothing to switch
        if isolate:
            self._switches.enter_context(without_sessions())
        if self.alias != DEFAULT_CONNECTION_NAME:  # the documents follow the unit's alias
            for document_cls in self.registry.documents:
                self._switches.enter_context(switched(document_cls, alias=self.alias))

    async def _close(self) -> None:
        self._switches.close()

    def _reachable_now(self) -> bool:
        """Whether the client knows a server it can use now (mongomock: always)."""
        client = get_async_connection(self.alias)
        if isinstance(client, AsyncMongomockClient):
            return True
        topology = client.topology_description
        return bool(
            topology.has_writable_server()
            or (self.read_only and topology.has_readable_server())
        )

    def _watch(self) -> outage_watch:
        """Ends the driver's wait for an unreachable server within the outage budget."""
        return outage_watch(self._bound(), self._reachable_now)

    async def _reachable(self) -> None:
        """Return at once while the client knows a server it can use; otherwise wait
        for one at most what is left of the outage budget (``StoreUnavailable`` then),
        so that no operation waits out the driver's own server selection timeout."""
        if self._reachable_now():
            return
        client = get_async_connection(self.alias)
        left = self._outage.left()
        if left <= 0:
            raise self._outage.unreachable()
        try:  # CSOT replaces serverSelectionTimeoutMS: the smaller of the two
            with bounded(min(left, client.options.server_selection_timeout)):
                await client.admin.command("ping")
        except PyMongoError as exc:
            if not isinstance(exc, ConnectionFailure) and not exc.timeout:
                raise  # reached, and refused (a wrong password): not an outage
            raise self._outage.unreachable(tls_advice(exc)) from exc

    def _bound(self) -> float:
        """The most any wait of the layer's own may take: what is left of the outage
        budget once an outage began, else the whole budget."""
        outage = self._outage
        return outage.budget if outage.since is None else max(outage.left(), 0.001)

    def wrote(self) -> None:
        """A repository is about to write in the current transaction (so its commit
        writes a commit record)."""
        self._wrote = True

    async def _begin(self) -> None:
        self._wrote = False
        if not self.transactions or self.read_only:
            return
        await self._reachable()
        context = async_run_in_transaction(self.alias)
        try:
            self._session = await context.__aenter__()
        except TransactionsNotSupportedError as exc:
            raise TransactionsUnsupported(str(exc)) from exc
        except Exception as exc:  # an outage: nothing began, starting again is safe
            unavailable = unavailable_from(exc, retry_safe=True)
            if unavailable is None:
                raise
            raise unavailable from exc
        self._context = context
        try:  # outside the transaction, once per client
            client = get_async_connection(self.alias)
            await _ensure_ttl_index(client, self._records(), self.commit_retention, self._bound())
        except BaseException as exc:
            await self._abort(exc)
            unavailable = unavailable_from(exc, retry_safe=True)  # nothing was written
            if unavailable is None:
                raise
            raise unavailable from exc

    async def _begin_next(self) -> None:
        """Defer the next transaction to the next operation: a block that commits and
        ends (the usual shape) opens no transaction only to abort it."""
        self._deferred = not self.read_only and self.transactions

    async def _ready(self) -> None:
        if self._deferred:
            self._deferred = False
            await self._begin()
        elif not self._reachable_now():
            await self._reachable()

    def _records(self) -> Any:
        """The commit records' collection in the alias's database."""
        db = get_async_db(self.alias)
        cached = _RECORDS.get(id(db))
        if cached is None or cached[0]() is not db:
            cached = _RECORDS[id(db)] = (weakref.ref(db), db[COLLECTION])
        return cached[1]

    async def _commit(self) -> None:
        events = self._published_events
        if events and self._deferred:  # an events-only unit: its transaction begins now
            self._deferred = False
            await self._begin()
        self._deferred = False
        context = self._context
        if context is None:
            marks, self._late_marks = self._late_marks, []
            for mark in marks:  # no transactions (mongomock): after the block's writes
                with contextlib.suppress(DuplicateKeyError):
                    await get_async_db(self.alias)[PROCESSED].insert_one(
                        {"_id": mark, "at": _utcnow()}
                    )
            if events and not self.read_only:  # no transactions (mongomock)
                async with _UNTRANSACTED_OUTBOX:
                    await get_async_db(self.alias)[COLLECTION].insert_one(
                        await self._record_document(new_commit_record(), events, None)
                    )
            return
        # a repository wrote, or other code joined the transaction (an engine write made
        # directly in the block): only a block of repository reads commits without one
        wrote = self._wrote or bool(events) or joined_by_other_code(self._session)
        self._wrote = False
        record = new_commit_record() if wrote else None
        if record is not None:
            try:  # the record, in the transaction: stored exactly when the commit lands
                with self._watch():
                    document = await self._record_document(record, events, self._session)
                    await self._records().insert_one(document, session=self._session)
            except PyMongoError as exc:  # not committed: the block's exit aborts
                if _is_write_conflict(exc):  # another block numbered the same key first
                    raise self.mark_rollback_only(
                        ConcurrencyConflict("outbox key", "(a key of this block's events)")
                    ) from exc
                self.mark_rollback_only(exc)
                unavailable = unavailable_from(exc, retry_safe=True)
                if unavailable is None:
                    raise
                raise unavailable from exc
        self._context = None
        try:  # the commit, its one retry by the driver and its cleanup: within the budget
            with self._watch():
                await context.__aexit__(None, None, None)
        except Exception as exc:
            if isinstance(exc, OperationFailure) and exc.code == _ILLEGAL_OPERATION:
                raise TransactionsUnsupported(
                    f"alias {self.alias!r} is not a replica set member: {exc}"
                ) from exc
            if any(isinstance(link, PyMongoError) for link in error_chain(exc)):
                if record is None:  # only reads: landed or not, nothing is lost or repeated
                    return
                # sent, and no answer says it was not applied: NoSuchTransaction after
                # a retried commit (a restarted server forgot it), a lost connection,
                # UnknownTransactionCommitResult, a write concern error...
                raise AmbiguousCommit(record, "the commit's outcome is unknown") from exc
            raise

    async def _record_document(
        self, record: CommitRecord, events: list[PendingEvent], session: Any
    ) -> dict[str, Any]:
        """The commit record to insert: with the block's events (numbered per key by the
        keys' counters, incremented in the same transaction) if it published any.  A
        record with events has ``published`` instead of ``at``: the TTL index leaves it
        to the outbox's retention (``persistence.outbox``)."""
        oid = ObjectId(record.id)
        if not events:
            return {"_id": oid, "at": _utcnow()}
        keys = get_async_db(self.alias)[OUTBOX_KEYS]
        last = {}
        for key, count in sorted(keys_needed(events).items()):
            counter = await keys.find_one_and_update(
                {"_id": key},
                {"$inc": {"seq": count}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            assert counter is not None  # an upsert returning the document after it
            last[key] = int(counter["seq"])
        return {
            "_id": oid,
            "published": _utcnow(),
            "events": record_events(record.id, events, last),
            "done": [],
        }

    async def _record_processed(self, key: str) -> bool:
        """Find the mark in the transaction's snapshot, else insert it there: a block
        that committed the same mark meanwhile makes this one a write conflict (run
        again, it finds the mark)."""
        marks = get_async_db(self.alias)[PROCESSED]
        async with self.operation():
            session = self._session if self._context is not None else None
            try:
                with self._watch():
                    if await marks.find_one({"_id": key}, session=session) is not None:
                        return False
                    if session is None:  # no transaction: written by the commit
                        self._late_marks.append(key)
                        return True
                    self.wrote()
                    await marks.insert_one({"_id": key, "at": _utcnow()}, session=session)
            except PyMongoError as exc:
                if _is_write_conflict(exc) or (
                    isinstance(exc, DuplicateKeyError) and session is not None
                ):
                    raise self.mark_rollback_only(
                        ConcurrencyConflict("processed event", key)
                    ) from exc
                if isinstance(exc, DuplicateKeyError):
                    return False
                unavailable = unavailable_from(exc, retry_safe=True)
                if unavailable is None:
                    raise
                if session is not None:
                    self.mark_rollback_only(unavailable)
                raise unavailable from exc
            return True

    async def _commit_landed(self, record: CommitRecord) -> bool:
        """Settle the commit of ``record`` for good: insert a *void* record with its id
        (durably, outside any transaction).  If that succeeds the commit did not land
        and never can (its own record would now clash); a duplicate key means the
        commit's record is stored (unless it is our own void from an earlier try).  A
        transaction the server still holds makes the insert wait for its end."""
        records = self._records().with_options(write_concern=DURABLE)
        oid = ObjectId(record.id)
        delay = 0.01
        while True:
            await self._reachable()
            try:
                with bounded(max(self._outage.left(), 0.001)):
                    try:
                        await records.insert_one({"_id": oid, "at": _utcnow(), "void": True})
                        return False
                    except DuplicateKeyError:
                        found = await records.find_one({"_id": oid})
                        return found is not None and not found.get("void", False)
            except PyMongoError as exc:
                if not isinstance(exc, ConnectionFailure) and not getattr(exc, "timeout", False):
                    raise StoreUnavailable(
                        "the store refused the commit record lookup", retry_safe=False
                    ) from exc
                if self._outage.left() <= 0:
                    raise self._outage.unreachable() from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _abort(self, error: BaseException | None) -> None:
        self._deferred = False
        self._late_marks = []
        context, self._context = self._context, None
        if context is None:
            return
        # the real error tells the engine whether the server's state is uncertain
        # (a cancellation: the session is then killed, see engine.transactions)
        reason = error if error is not None else _Rollback()
        if error is not None and any(
            isinstance(link, (ConnectionFailure, StoreUnavailable)) for link in error_chain(error)
        ):
            self._outage.left()  # the first sign of an outage: its clock starts
        watch = self._watch()
        try:  # aborting (killing the session, ending it) waits at most the budget
            with watch:
                await context.__aexit__(type(reason), reason, reason.__traceback__)
        except BaseException as exc:
            if exc is not reason and not (watch.fired and isinstance(exc, NetworkTimeout)):
                raise
            # (ended by the watch: the session's cleanup goes on in the background)
