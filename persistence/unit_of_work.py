"""What every unit of work does, whatever the backend: blocks (one per task), nesting,
retries, rollback-only state, exactly-once commits, compensated files and repositories
built from a registry.

An adapter subclasses :class:`BaseUnitOfWork` and supplies only what differs:

``_make_repository(aggregate)``
    its query repository for one registered aggregate;
``_init_block()``
    the state of one block, on top of the base's (call ``super()._init_block()``);
``_open()`` / ``_close()``
    set up and tear down a whole outermost block (optional);
``_begin()`` / ``_commit()`` / ``_abort(error)``
    start a unit, keep its work (with a commit record if it wrote), discard its work;
    ``_commit`` raises :class:`~.commit_records.AmbiguousCommit` (with the record) when
    the commit was sent and its outcome is unknown;
``_commit_landed(record)``
    whether that commit landed (its record is stored), final once answered; raises
    ``StoreUnavailable`` while it cannot be learnt;
``_begin_next()`` / ``_ready()``
    start the unit after a commit or rollback (default: ``_begin()``), and get ready
    for an operation (an adapter may start that unit there, on first use);
``reading()``
    a read-only unit of work over the same store (``read_only=True``: repositories
    and files refuse writes with ``UnitOfWorkError``; no transaction is opened).

**A unit of work is a factory of blocks, one per task.**  ``async with uow:`` opens a
block for the task that runs it: its own transaction (or staging), repositories, nesting
and files, kept in a ``contextvars`` entry of that task.  ``uow.orders``, ``commit()``
and the rest act on the current task's block, so one unit of work may be shared by any
number of tasks (an application-wide unit passed to every handler; twenty
``uow.run(...)`` calls gathered at once): their blocks never see or end each other's
work.  A block never crosses tasks: a task created inside a block does not join it (its
own ``async with uow:`` opens its own block); repository operations a block hands to
``asyncio.gather`` still run in that block, one at a time.

A nested ``async with uow:`` in the same task joins the block already open: only the
outermost ``commit()`` commits; a nested ``commit()`` just marks the nested block done.
A nested block left by an exception, or without its ``commit()``, or rolled back, makes
the whole unit rollback-only (its work cannot be undone alone).  ``run(work)`` runs
``work(uow)`` in a block and commits, re-running it all on a write conflict or an outage
that applied nothing, as the unit's ``retry_policy`` allows (:mod:`.retry_policy`:
separate budgets for conflicts and outages, jittered backoff).

Exactly-once commits: every commit writes a commit record with the block's work
(:mod:`.commit_records`).  A commit whose answer is lost is settled before ``commit()``
returns or raises: it returns if the record is stored (the commit landed), raises
``StoreUnavailable(retry_safe=True)`` if it is not (and now never will be), and raises
``CommitOutcomeUnknown`` if the store stays out of reach for the outage budget.  So
``run`` never re-runs a block that may have committed.

Domain events: ``uow.publish(event)`` records an event in the block; the adapter's
``_commit`` writes the block's events (``self._published_events``) in its commit record, in the
transaction (issue 24, :mod:`persistence.outbox`); a block that rolls back drops them.
``record_processed`` (the adapter's ``_record_processed``) writes a processed mark in
the block, for :func:`persistence.outbox.handle_once`.

One unit of work per task: opening a block of a *different* unit of work while a block
is open in the same task is refused with ``UnitOfWorkError`` at block start, on every
adapter (MongoDB runs one transaction per client and task).  Pass the open unit of work
to the service instead.  Read-only units (``reading()``) open no transaction and are not
counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, overload

from persistence.commit_records import DEFAULT_RETENTION, AmbiguousCommit, CommitRecord
from persistence.errors import CommitOutcomeUnknown, StoreUnavailable, UnitOfWorkError
from persistence.files.compensated import CompensatedFiles
from persistence.outbox.recording import PendingEvent, check_room, prepare_event
from persistence.pending_operations import PendingOperations, tracked_subclass
from persistence.ports import AggregateRepository, FileStore, QueryRepository
from persistence.read_only import ReadOnlyFiles, ReadOnlyRepository
from persistence.registry import Registration, Registry
from persistence.retry_policy import DEFAULT_RETRY_POLICY, OutageClock, RetryPolicy, is_retryable

__all__ = ["BaseUnitOfWork", "is_retryable"]

E = TypeVar("E")
T = TypeVar("T")
X = TypeVar("X", bound=BaseException)
R = TypeVar("R", bound=AggregateRepository[Any])
U = TypeVar("U", bound="BaseUnitOfWork")

_NO_BLOCKS: Mapping[BaseUnitOfWork, BaseUnitOfWork] = {}
_BLOCKS: ContextVar[Mapping[BaseUnitOfWork, BaseUnitOfWork]] = ContextVar(
    "unit_of_work_blocks", default=_NO_BLOCKS
)
"""Each unit of work's block opened in this task (a task created inside a block
inherits the entry, which names the task that opened the block, so it is never joined)."""


class _Operation:
    """``async with uow.operation():`` the unit's lock, then the unit made ready."""

    __slots__ = ("_uow",)

    def __init__(self, uow: BaseUnitOfWork) -> None:
        self._uow = uow

    async def __aenter__(self) -> None:
        lock = self._uow._lock
        await lock.acquire()
        try:
            await self._uow._ready()
        except BaseException:
            lock.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._uow._lock.release()


class _Scope:
    """``async with _Scope(uow, outage):`` a block of ``uow`` whose outage budget is a
    run's clock (``uow.run`` opens its attempts so)."""

    __slots__ = ("_outage", "_uow")

    def __init__(self, uow: BaseUnitOfWork, outage: OutageClock) -> None:
        self._uow = uow
        self._outage = outage

    async def __aenter__(self) -> None:
        await self._uow._enter(self._outage)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)


class BaseUnitOfWork:
    """A unit of work over the aggregates of ``registry`` (see :class:`persistence.UnitOfWork`).

    The object users hold is the *unit*: configuration, and a factory of blocks.  Each
    ``async with`` of a task without an open block makes a *block*: a copy of the unit
    with the state of one block (:meth:`_init_block`), found again through the task's
    context.  Repositories belong to a block.
    """

    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    commit_retention: float = DEFAULT_RETENTION
    """Seconds a commit record is kept (see :mod:`.commit_records`)."""
    _outage: OutageClock  # a block's: what is left of its outage budget

    def __init__(
        self,
        registry: Registry,
        files: FileStore,
        *,
        read_only: bool = False,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        registry.resolve()
        self.registry = registry
        self.read_only = read_only
        if retry_policy is not None:
            self.retry_policy = retry_policy
        self._file_store_port = files
        self._unit: BaseUnitOfWork | None = None  # a block: the unit it was made from

    def _init_block(self) -> None:
        """The state of one block (an adapter adds its own, calling this first)."""
        self._files = CompensatedFiles(self._file_store_port)
        self._repositories: dict[str, Any] = {}
        self._active = False
        self._failed: BaseException | None = None
        self._levels: list[bool] = []  # per open nested block: whether it committed
        self._lock = asyncio.Lock()
        self._token: Token[Mapping[BaseUnitOfWork, BaseUnitOfWork]] | None = None
        self._pending = PendingOperations()
        self._task = asyncio.current_task()
        self._published_events: list[PendingEvent] = []  # published since the last commit

    def _new_block(self: U, outage: OutageClock) -> U:
        block = object.__new__(type(self))
        block.__dict__.update(self.__dict__)
        block._unit = self
        block._outage = outage
        block._init_block()
        return block

    # -- hooks ------------------------------------------------------------------------

    def _make_repository(self, aggregate: Registration[Any]) -> QueryRepository[Any]:
        raise NotImplementedError  # pragma: no cover - every adapter has its own

    async def _open(self) -> None:
        """Before the first unit of an outermost block."""

    async def _close(self) -> None:
        """After an outermost block ended (always runs)."""

    async def _begin(self) -> None:
        """Start a unit (after ``_open``, and after every commit or rollback)."""

    async def _begin_next(self) -> None:
        """Start the unit that follows a commit or rollback in the same block (an
        adapter may defer it to the unit's first operation: see :meth:`_ready`)."""
        await self._begin()

    async def _ready(self) -> None:
        """Before each repository operation (after the unit's lock is taken)."""

    async def _commit(self) -> None:
        """Keep the work of the unit, with a new commit record if it wrote (raise
        ``AmbiguousCommit`` if the commit was sent and its outcome is unknown)."""

    async def _commit_landed(self, record: CommitRecord) -> bool:
        """Whether the ambiguous commit of ``record`` landed; a final answer (after a
        False the commit can never land); ``StoreUnavailable`` while it cannot be known."""
        raise NotImplementedError  # pragma: no cover - adapters that raise AmbiguousCommit

    async def _abort(self, error: BaseException | None) -> None:
        """Discard the work of the unit (``error``: why, if it failed)."""

    async def _record_processed(self, key: str) -> bool:
        """Write the processed mark ``key`` in the unit (False if a committed one exists)."""
        raise NotImplementedError  # pragma: no cover - every adapter has its own

    # -- the current task's block -----------------------------------------------------

    def _block_here(self: U) -> U | None:
        """This unit's block open in the current task (a block: itself while open)."""
        if self._unit is not None:
            return self if self._active else None
        block = _BLOCKS.get().get(self)
        if block is None or not block._active or block._task is not asyncio.current_task():
            return None
        return block  # type: ignore[return-value]

    def _open_block(self: U) -> U:
        """This unit's block open in the current task; ``UnitOfWorkError`` if none."""
        block = self._block_here()
        if block is None:
            raise self._outside_a_block()
        return block

    def _outside_a_block(self) -> UnitOfWorkError:
        inherited = self._unit is None and self in _BLOCKS.get()
        return UnitOfWorkError(
            "use the unit of work inside `async with uow:`"
            + (
                " (this task was created inside a block that another task opened: a block "
                "belongs to the task that opened it, so open one in this task)"
                if inherited
                else ""
            )
        )

    # -- repositories -------------------------------------------------------------------

    @overload
    def repo(self, key: type[R]) -> R: ...

    @overload
    def repo(self, key: type[E]) -> QueryRepository[E]: ...

    def repo(self, key: type[Any]) -> Any:
        """The repository of a registered entity class, or of the aggregate's own
        repository class (``KeyError`` if not registered)."""
        return self.repository(self.registry.registration(key).name)

    def repository(self, name: str) -> QueryRepository[Any]:
        """The repository registered as ``name`` (``KeyError`` if none), in the current
        task's block."""
        block = self._open_block()
        found = block._repositories.get(name)
        if found is None:
            aggregate = block.registry.registration(name)
            found = block._make_repository(aggregate)
            if block.read_only:
                found = ReadOnlyRepository(found, name)
            if aggregate.repository_cls is not None:
                found = tracked_subclass(aggregate.repository_cls)(found)
            block._repositories[name] = found
        return found

    def __getattr__(self, name: str) -> Any:
        """``uow.orders``: the repository registered as ``orders``."""
        registry = self.__dict__.get("registry")
        if registry is None or name.startswith("_") or name not in registry:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return self.repository(name)

    @property
    def files(self) -> Any:
        """The file store, compensated by the current task's block (only its reads if
        the unit is read-only)."""
        block = self._open_block()
        return ReadOnlyFiles(block._files) if block.read_only else block._files

    def reading(self: U) -> U:
        """A read-only unit of work over the same store: no transaction, every read sees
        what is committed when it runs; writes raise ``UnitOfWorkError``."""
        raise NotImplementedError  # pragma: no cover - every adapter has its own

    def files_of_removed(self, file_ids: list[str]) -> None:
        """The files owned by aggregates removed in this block: deleted from the file
        store after the commit, kept if the block rolls back."""
        if file_ids:
            self._open_block()._files.delete_after_commit(file_ids)

    # -- domain events (issue 24: the outbox) ----------------------------------------------

    def publish(self, event: Any, *, key: str | None = None) -> None:
        """Record the domain event ``event`` in the current task's block: the commit writes
        it to the outbox in the same transaction as the block's data (a block that rolls
        back publishes nothing).  ``key`` overrides the event type's key field (events of
        one key are delivered in commit order).  The event is encoded and checked now
        (``TypeError`` for an unregistered class or a value the store cannot hold;
        ``ValueError`` when the block's events would not fit in one commit record)."""
        block = self._open_block()
        if block.read_only:
            raise UnitOfWorkError("a read-only unit of work cannot publish events")
        events = block._published_events
        events.append(check_room(events, prepare_event(event, key)))

    @property
    def published(self) -> list[Any]:
        """The events published in the current task's block since its last commit."""
        return [pending.event for pending in self._open_block()._published_events]

    async def record_processed(self, consumer: str, event_id: str) -> bool:
        """Mark the event ``event_id`` processed by ``consumer`` in this block (kept if
        the block commits); False if a committed block already marked it, so the caller
        skips its effects (:func:`persistence.outbox.handle_once` does this)."""
        block = self._open_block()
        if block.read_only:
            raise UnitOfWorkError("a read-only unit of work cannot record processed events")
        return await block._record_processed(f"{consumer}/{event_id}")

    # -- state ----------------------------------------------------------------------------

    def require_active(self) -> None:
        """``UnitOfWorkError`` outside ``async with`` (in the current task)."""
        self._open_block()

    @property
    def depth(self) -> int:
        """How many blocks are open in the current task (0 outside, 1 in the outermost)."""
        block = self._block_here()
        return 0 if block is None else len(block._levels) + 1

    def mark_rollback_only(self, error: X) -> X:
        """Make the current unit rollback-only because of ``error``; return ``error``."""
        block = self._block_here()
        if block is not None:
            block._failed = error
        return error

    def operation(self) -> AbstractAsyncContextManager[None]:
        """Serialize repository operations: one block never runs two at once."""
        return _Operation(self._open_block())

    # -- blocks ---------------------------------------------------------------------------

    async def __aenter__(self: U) -> U:
        await self._enter(None)
        return self

    async def _enter(self, outage: OutageClock | None) -> None:
        unit = self._unit or self
        block = unit._block_here()
        if block is not None:  # a nested block of this task joins
            block._levels.append(False)
            return
        task = asyncio.current_task()
        blocks = _BLOCKS.get()
        if not unit.read_only:  # a reader opens no transaction
            for other, other_block in blocks.items():
                if (
                    other is not unit
                    and other_block._active
                    and not other_block.read_only
                    and other_block._task is task
                ):
                    raise UnitOfWorkError(
                        f"another unit of work ({type(other).__name__}) has a block open in "
                        f"this task, so {type(unit).__name__} cannot open one: a task runs "
                        "one unit of work at a time. Pass the open unit of work to the code "
                        "that needs it (its `async with uow:` then joins the open block), "
                        "or open this one after that block ends."
                    )
        block = unit._new_block(outage or unit.retry_policy.outage_clock())
        await block._open()
        try:
            await block._begin()
        except BaseException:
            await block._close()
            raise
        block._active = True
        block._token = _BLOCKS.set({**blocks, unit: block})

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        unit = self._unit or self
        block = unit._block_here()
        if block is None:
            raise UnitOfWorkError(
                "the block was left from another task than the one that opened it"
            ) from exc
        if block._levels:
            committed = block._levels.pop()
            if block._failed is None:
                if exc is not None:
                    block.mark_rollback_only(exc)
                elif not committed:
                    error = UnitOfWorkError("a nested block ended without commit()")
                    block.mark_rollback_only(error)
            return
        block._pending.take_unawaited()  # rolled back with the rest of the block
        block._published_events.clear()
        try:
            await block._abort(exc)
        finally:
            block._active = False
            block._failed = None
            block._release_task(unit)
            try:
                await block._files.rolled_back()
            finally:
                await block._close()

    def _release_task(self, unit: BaseUnitOfWork) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            _BLOCKS.reset(token)
        except ValueError:  # left from another context than it was opened in
            _BLOCKS.set({u: b for u, b in _BLOCKS.get().items() if u is not unit})

    async def commit(self) -> None:
        """Keep the work done in the block so far; later work is a new unit.

        Exactly once: if the commit's answer is lost, whether it landed is learnt from
        its commit record before this returns (it landed) or raises
        ``StoreUnavailable(retry_safe=True)`` (it did not, and never will) or
        ``CommitOutcomeUnknown`` (the store stayed out of reach: do not run the block
        again before its record is found or known absent)."""
        block = self._open_block()
        unawaited = block._pending.take_unawaited()
        if unawaited and block._failed is None:
            block.mark_rollback_only(
                UnitOfWorkError(
                    f"{', '.join(unawaited)} {'was' if len(unawaited) == 1 else 'were'} "
                    "called in the block but never awaited, so the block's work is not "
                    "kept: await every repository operation (`await uow.orders.add(order)`)"
                )
            )
        if block._levels:
            if block._failed is not None:
                raise UnitOfWorkError(
                    f"the unit of work is rollback-only after an earlier error: {block._failed}"
                ) from block._failed
            block._levels[-1] = True
            return
        async with block._lock:
            failed, block._failed = block._failed, None
            if failed is not None:
                block._published_events.clear()
                await block._abort(None)
                await block._begin_next()
                await block._files.rolled_back()
                raise UnitOfWorkError(
                    f"the unit of work was rolled back after an earlier error: {failed}"
                ) from failed
            try:
                await block._commit()
            except AmbiguousCommit as ambiguous:
                # in the record: stored exactly if the commit landed
                block._published_events.clear()
                await block._settle(ambiguous.record, ambiguous)
            block._published_events.clear()
            await block._begin_next()
            await block._files.committed()

    async def _settle(self, record: CommitRecord, ambiguous: AmbiguousCommit) -> None:
        """Learn whether the commit of ``record`` landed: return if it did, else raise."""
        cause = ambiguous.__cause__ or ambiguous
        try:
            if record.expired_by(self.commit_retention):  # (a retention shorter than a commit)
                raise StoreUnavailable("the commit record may have expired", retry_safe=False)
            landed = await self._commit_landed(record)
        except StoreUnavailable as unreachable:
            # the files put in the block stay (an orphan, rather than a file the committed
            # block refers to deleted), and those it deleted stay too
            self._files.forget()
            await self._begin_next()
            raise CommitOutcomeUnknown(
                f"the commit's answer was lost and the store stayed unreachable, so whether "
                f"it landed is unknown: it did exactly if the commit record {record.id} is "
                "stored; do not run the block again before that is known",
                commit_id=record.id,
            ) from unreachable
        if landed:
            return
        await self._begin_next()
        await self._files.rolled_back()
        raise StoreUnavailable(
            "the commit's answer was lost and the commit did not land (its commit record "
            "is absent, and now never will be stored); nothing of the block was applied, "
            "retrying is safe",
            retry_safe=True,
        ) from cause

    async def commit_landed(self, commit_id: str) -> bool:
        """Whether the commit whose record is ``commit_id`` (a ``CommitOutcomeUnknown``'s)
        landed: True if its record is stored; False if it is not, and then it never can
        be (the answer is final).  ``StoreUnavailable`` while the store is out of reach
        (within the unit's outage budget); ``CommitOutcomeUnknown`` again once the
        record may have expired (after half the commit records' retention)."""
        unit = self._unit or self
        probe = unit._new_block(unit.retry_policy.outage_clock())
        record = CommitRecord(commit_id)
        if record.expired_by(probe.commit_retention):
            raise CommitOutcomeUnknown(
                f"commit record {commit_id} may have expired (records are kept "
                f"{probe.commit_retention:g} s): whether that commit landed cannot be learnt "
                "from it any more",
                commit_id=commit_id,
            )
        return await probe._commit_landed(record)

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""
        block = self._open_block()
        if block._levels:
            if block._failed is None:
                block.mark_rollback_only(UnitOfWorkError("a nested block rolled back"))
            return
        block._pending.take_unawaited()
        block._published_events.clear()
        async with block._lock:
            block._failed = None
            await block._abort(None)
            await block._begin_next()
            await block._files.rolled_back()

    async def run(
        self: U, work: Callable[[U], Awaitable[T]], *, policy: RetryPolicy | None = None
    ) -> T:
        """``await work(uow)`` in a block of the current task, then commit; return what
        ``work`` returned.

        ``work`` receives this unit of work (its repositories are the block's).  A write
        conflict, or an outage that applied nothing, runs the whole block again while
        ``policy`` (default: the unit's ``retry_policy``: 120 s for conflicts, 30 s of
        unavailability) allows; a block is never run again after a commit that may have
        landed (see :meth:`commit`).  Inside a block already open in this task it joins
        that block: no commit of its own and no retry (the outer block decides)."""
        unit = self._unit or self
        if unit._block_here() is not None:
            async with self:
                result = await work(self)
                await self.commit()
            return result
        policy = policy or unit.retry_policy
        outage = policy.outage_clock()

        async def attempt() -> T:
            async with _Scope(unit, outage):
                result = await work(self)
                await self.commit()
            return result

        return await policy.run(attempt, outage=outage)
