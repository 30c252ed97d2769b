"""What every unit of work does, whatever the backend: blocks, nesting, retries,
rollback-only state, compensated files and repositories built from a registry.

An adapter subclasses :class:`BaseUnitOfWork` and supplies only what differs:

``_make_repository(aggregate)``
    its query repository for one registered aggregate;
``_open()`` / ``_close()``
    set up and tear down a whole outermost block (optional);
``_begin()`` / ``_commit()`` / ``_abort(error)``
    start a unit, keep its work, discard its work;
``_begin_next()`` / ``_ready()``
    start the unit after a commit or rollback (default: ``_begin()``), and get ready
    for an operation (an adapter may start that unit there, on first use);
``reading()``
    a read-only unit of work over the same store (``read_only=True``: repositories
    and files refuse writes with ``UnitOfWorkError``; no transaction is opened).

A nested ``async with uow:`` joins the block already open: only the outermost
``commit()`` commits; a nested ``commit()`` just marks the nested block done.  A nested
block left by an exception, or without its ``commit()``, or rolled back, makes the whole
unit rollback-only (its work cannot be undone alone).  ``run(work)`` runs ``work(uow)``
in a block and commits, re-running it all on a write conflict as the unit's
``retry_policy`` allows (:mod:`.retry_policy`: a time budget, jittered backoff).

One unit of work per task: opening a block of a *different* unit of work while a block is
open in the same task (or in the task that created this one) is refused with
``UnitOfWorkError`` at block start, on every adapter (MongoDB runs one transaction per
client and task).  Pass the open unit of work to the service instead.  Read-only units
(``reading()``) open no transaction and are not counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, overload

from domain.errors import UnitOfWorkError
from domain.ports import AggregateRepository, FileStore, QueryRepository
from persistence.registry import Registration, Registry

from .compensated_files import CompensatedFiles
from .pending_operations import PendingOperations, tracked_subclass
from .read_only import ReadOnlyFiles, ReadOnlyRepository
from .retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy, is_retryable

__all__ = ["BaseUnitOfWork", "is_retryable"]

E = TypeVar("E")
T = TypeVar("T")
X = TypeVar("X", bound=BaseException)
R = TypeVar("R", bound=AggregateRepository[Any])
U = TypeVar("U", bound="BaseUnitOfWork")


_OPEN_UNIT: ContextVar[BaseUnitOfWork | None] = ContextVar("open_unit_of_work", default=None)
"""The unit of work whose outermost block is open in this task."""


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


class BaseUnitOfWork:
    """A unit of work over the aggregates of ``registry`` (see :class:`domain.ports.UnitOfWork`)."""

    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY

    def __init__(self, registry: Registry, files: FileStore, *, read_only: bool = False) -> None:
        registry.resolve()
        self.registry = registry
        self.read_only = read_only
        self._files = CompensatedFiles(files)
        self._repositories: dict[str, Any] = {}
        self._active = False
        self._failed: BaseException | None = None
        self._levels: list[bool] = []  # per open nested block: whether it committed
        self._lock = asyncio.Lock()
        self._token: Token[BaseUnitOfWork | None] | None = None
        self._pending = PendingOperations()

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
        """Keep the work of the unit."""

    async def _abort(self, error: BaseException | None) -> None:
        """Discard the work of the unit (``error``: why, if it failed)."""

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
        """The repository registered as ``name`` (``KeyError`` if none)."""
        self.require_active()
        found = self._repositories.get(name)
        if found is None:
            aggregate = self.registry.registration(name)
            found = self._make_repository(aggregate)
            if self.read_only:
                found = ReadOnlyRepository(found, name)
            if aggregate.repository_cls is not None:
                found = tracked_subclass(aggregate.repository_cls)(found)
            self._repositories[name] = found
        return found

    def __getattr__(self, name: str) -> Any:
        """``uow.orders``: the repository registered as ``orders``."""
        registry = self.__dict__.get("registry")
        if registry is None or name.startswith("_") or name not in registry:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return self.repository(name)

    @property
    def files(self) -> Any:
        """The file store, compensated by this unit of work (only its reads if the unit
        is read-only)."""
        self.require_active()
        return ReadOnlyFiles(self._files) if self.read_only else self._files

    def reading(self: U) -> U:
        """A read-only unit of work over the same store: no transaction, every read sees
        what is committed when it runs; writes raise ``UnitOfWorkError``."""
        raise NotImplementedError  # pragma: no cover - every adapter has its own

    def files_of_removed(self, file_ids: list[str]) -> None:
        """The files owned by aggregates removed in this block: deleted from the file
        store after the commit, kept if the block rolls back."""
        if file_ids:
            self._files.delete_after_commit(file_ids)

    # -- state ----------------------------------------------------------------------------

    def require_active(self) -> None:
        """``UnitOfWorkError`` outside ``async with``."""
        if not self._active:
            raise UnitOfWorkError("use the unit of work inside `async with uow:`")

    @property
    def depth(self) -> int:
        """How many blocks are open (0 outside, 1 in the outermost)."""
        return len(self._levels) + (1 if self._active else 0)

    def mark_rollback_only(self, error: X) -> X:
        """Make the current unit rollback-only because of ``error``; return ``error``."""
        self._failed = error
        return error

    def operation(self) -> AbstractAsyncContextManager[None]:
        """Serialize repository operations: one unit never runs two at once."""
        self.require_active()
        return _Operation(self)

    # -- blocks ---------------------------------------------------------------------------

    async def __aenter__(self: U) -> U:
        if self._active:
            self._levels.append(False)
            return self
        other = None if self.read_only else _OPEN_UNIT.get()  # a reader opens no transaction
        if other is not None and other is not self and other._active:
            raise UnitOfWorkError(
                f"another unit of work ({type(other).__name__}) has a block open in this "
                f"task, so {type(self).__name__} cannot open one: a task runs one unit of "
                "work at a time. Pass the open unit of work to the code that needs it "
                "(its `async with uow:` then joins the open block), or open this one "
                "after that block ends."
            )
        self._pending.take_unawaited()  # created outside any block: never run
        await self._open()
        try:
            await self._begin()
        except BaseException:
            await self._close()
            raise
        self._failed = None
        self._active = True
        if not self.read_only:
            self._token = _OPEN_UNIT.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._levels:
            committed = self._levels.pop()
            if self._failed is None:
                if exc is not None:
                    self.mark_rollback_only(exc)
                elif not committed:
                    error = UnitOfWorkError("a nested block ended without commit()")
                    self.mark_rollback_only(error)
            return
        self._pending.take_unawaited()  # rolled back with the rest of the block
        try:
            await self._abort(exc)
        finally:
            self._active = False
            self._failed = None
            self._release_task()
            try:
                await self._files.rolled_back()
            finally:
                await self._close()

    def _release_task(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            _OPEN_UNIT.reset(token)
        except ValueError:  # the block was left from another context than it was opened in
            pass

    async def commit(self) -> None:
        """Keep the work done in the block so far; later work is a new unit."""
        self.require_active()
        unawaited = self._pending.take_unawaited()
        if unawaited and self._failed is None:
            self.mark_rollback_only(
                UnitOfWorkError(
                    f"{', '.join(unawaited)} {'was' if len(unawaited) == 1 else 'were'} "
                    "called in the block but never awaited, so the block's work is not "
                    "kept: await every repository operation (`await uow.orders.add(order)`)"
                )
            )
        if self._levels:
            if self._failed is not None:
                raise UnitOfWorkError(
                    f"the unit of work is rollback-only after an earlier error: {self._failed}"
                ) from self._failed
            self._levels[-1] = True
            return
        async with self._lock:
            failed, self._failed = self._failed, None
            if failed is not None:
                await self._abort(None)
                await self._begin_next()
                await self._files.rolled_back()
                raise UnitOfWorkError(
                    f"the unit of work was rolled back after an earlier error: {failed}"
                ) from failed
            await self._commit()
            await self._begin_next()
            await self._files.committed()

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""
        self.require_active()
        if self._levels:
            if self._failed is None:
                self.mark_rollback_only(UnitOfWorkError("a nested block rolled back"))
            return
        self._pending.take_unawaited()
        async with self._lock:
            self._failed = None
            await self._abort(None)
            await self._begin_next()
            await self._files.rolled_back()

    async def run(
        self: U, work: Callable[[U], Awaitable[T]], *, policy: RetryPolicy | None = None
    ) -> T:
        """``work(uow)`` in a block, then commit; on a write conflict (see
        :func:`is_retryable`) the whole block runs again while ``policy`` (default: the
        unit's ``retry_policy``, 120 s of jittered backoff) allows.  Inside an open
        block it joins it and is not retried."""

        async def attempt() -> T:
            async with self:
                result = await work(self)
                await self.commit()
            return result

        if self._active:
            return await attempt()
        return await (policy or self.retry_policy).run(attempt)
