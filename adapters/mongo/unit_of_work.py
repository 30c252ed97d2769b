"""The MongoDB unit of work: one transaction per unit, through ``async_run_in_transaction``."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, ExitStack
from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo.errors import OperationFailure

from domain.errors import TransactionsUnsupported
from domain.ports import FileStore
from persistence.engine import TransactionsNotSupportedError, async_run_in_transaction
from persistence.engine.sessions import without_sessions
from persistence.engine.task_switches import switched
from persistence.registry import Registration, Registry

from ..unit_of_work import BaseUnitOfWork
from .errors import unavailable_from
from .files import GridFSFileStore
from .repositories import MongoQueries

__all__ = ["MongoUnitOfWork"]

_ILLEGAL_OPERATION = 20  # "Transaction numbers are only allowed on a replica set member"


class _Rollback(Exception):
    """Thrown into the transaction context to abort it."""


class MongoUnitOfWork(BaseUnitOfWork):
    """``async with uow:`` runs one MongoDB transaction on ``alias`` over the aggregates
    of ``registry``.

    Work is committed only by ``await uow.commit()``; leaving the block without it
    (normally or by an exception, which propagates) rolls back.  After a commit (or
    rollback) the block goes on in a new transaction, begun by its first repository
    operation.  With ``transactions=False`` (mongomock) writes apply
    immediately and ``rollback`` cannot undo them.  With ``read_only=True`` (or from
    :meth:`reading`) no transaction is opened and writes raise ``UnitOfWorkError``.
    ``files`` is a GridFS store on the same alias (any ``FileStore`` given instead:
    mongomock has no GridFS), compensated as the port says.  The
    registered Documents follow ``alias`` inside the block.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        alias: str = DEFAULT_CONNECTION_NAME,
        transactions: bool = True,
        files: FileStore | None = None,
        read_only: bool = False,
    ) -> None:
        self._store = files if files is not None else GridFSFileStore(alias)
        super().__init__(registry, self._store, read_only=read_only)
        self.alias = alias
        self.transactions = transactions
        self._context: AbstractAsyncContextManager[Any] | None = None
        self._session: Any = None
        self._deferred = False  # the next transaction begins with the next operation
        self._switches = ExitStack()

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
        )

    def _make_repository(self, aggregate: Registration[Any]) -> MongoQueries[Any]:
        return MongoQueries(self, aggregate)

    async def _open(self) -> None:
        if not self.read_only and self.alias == DEFAULT_CONNECTION_NAME:
            return  # nothing to switch
        self._switches = ExitStack()
        if self.read_only:  # not even a transaction the task has open elsewhere
            self._switches.enter_context(without_sessions())
        if self.alias != DEFAULT_CONNECTION_NAME:  # the documents follow the unit's alias
            for document_cls in self.registry.documents:
                self._switches.enter_context(switched(document_cls, alias=self.alias))

    async def _close(self) -> None:
        self._switches.close()

    async def _begin(self) -> None:
        if not self.transactions or self.read_only:
            return
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

    async def _begin_next(self) -> None:
        """Defer the next transaction to the next operation: a block that commits and
        ends (the usual shape) opens no transaction only to abort it."""
        self._deferred = not self.read_only and self.transactions

    async def _ready(self) -> None:
        if self._deferred:
            self._deferred = False
            await self._begin()

    async def _commit(self) -> None:
        self._deferred = False
        context, self._context = self._context, None
        if context is None:
            return
        try:
            await context.__aexit__(None, None, None)
        except Exception as exc:
            if isinstance(exc, OperationFailure) and exc.code == _ILLEGAL_OPERATION:
                raise TransactionsUnsupported(
                    f"alias {self.alias!r} is not a replica set member: {exc}"
                ) from exc
            # an outage: retry-safe only if the driver says nothing was committed
            unavailable = unavailable_from(exc, retry_safe=False)
            if unavailable is None:
                raise
            raise unavailable from exc

    async def _abort(self, error: BaseException | None) -> None:
        self._deferred = False
        context, self._context = self._context, None
        if context is None:
            return
        # the real error tells the engine whether the server's state is uncertain
        # (a cancellation: the session is then killed, see engine.transactions)
        reason = error if error is not None else _Rollback()
        try:
            await context.__aexit__(type(reason), reason, reason.__traceback__)
        except BaseException as exc:
            if exc is not reason:
                raise
