"""The MongoDB unit of work: one transaction per block, through ``async_run_in_transaction``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo.errors import OperationFailure

from domain.aggregates import AGGREGATES
from domain.entities import Account, Product, User
from domain.errors import TransactionsUnsupported, UnitOfWorkError
from domain.library import Author, Book, Comment, Contract, Post, Review, Shelf
from persistence.engine import TransactionsNotSupportedError, async_run_in_transaction
from persistence.engine.overrides import override
from persistence.mapping import DocumentMapper
from persistence.models import DOCUMENTS

from ..compensated_files import CompensatedFiles
from ..composition import Composition
from ..repository_slot import RepositorySlot
from .errors import unavailable_from
from .files import GridFSFileStore
from .repositories import MongoQueries

__all__ = ["MongoUnitOfWork"]

E_ = TypeVar("E_", bound=BaseException)

_ILLEGAL_OPERATION = 20  # "Transaction numbers are only allowed on a replica set member"


class _Rollback(Exception):
    """Thrown into the transaction context to abort it."""


class MongoUnitOfWork(Composition):
    """``async with uow:`` runs one MongoDB transaction on ``alias``.

    Work is committed only by ``await uow.commit()``; leaving the block without it
    (normally or by an exception, which propagates) rolls back.  After a commit the block
    goes on in a new transaction.  With ``transactions=False`` (mongomock) writes apply
    immediately and ``rollback`` cannot undo them.  ``files`` is a GridFS store on the
    same alias, compensated as the port says.
    """

    users: RepositorySlot[MongoQueries[User]] = RepositorySlot()
    products: RepositorySlot[MongoQueries[Product]] = RepositorySlot()
    authors: RepositorySlot[MongoQueries[Author]] = RepositorySlot()
    books: RepositorySlot[MongoQueries[Book]] = RepositorySlot()
    reviews: RepositorySlot[MongoQueries[Review]] = RepositorySlot()
    shelves: RepositorySlot[MongoQueries[Shelf]] = RepositorySlot()
    contracts: RepositorySlot[MongoQueries[Contract]] = RepositorySlot()
    posts: RepositorySlot[MongoQueries[Post]] = RepositorySlot()
    comments: RepositorySlot[MongoQueries[Comment]] = RepositorySlot()
    accounts: RepositorySlot[MongoQueries[Account]] = RepositorySlot()

    def __init__(
        self,
        alias: str = DEFAULT_CONNECTION_NAME,
        *,
        transactions: bool = True,
        files: GridFSFileStore | None = None,
    ) -> None:
        self.alias = alias
        self.transactions = transactions
        self._repositories: dict[str, MongoQueries[Any]] = {
            name: MongoQueries(self, name, DocumentMapper(aggregate.entity_cls, DOCUMENTS[name]))
            for name, aggregate in AGGREGATES.items()
        }
        self._files = CompensatedFiles(files if files is not None else GridFSFileStore(alias))
        self._context: AbstractAsyncContextManager[Any] | None = None
        self._session: Any = None
        self._active = False
        self._failed: BaseException | None = None
        self._lock = asyncio.Lock()
        self._switches = ExitStack()

    def repository(self, name: str) -> MongoQueries[Any]:
        """The repository called ``name``; ``KeyError`` if there is none."""
        self._require_active()
        return self._repositories[name]

    @property
    def files(self) -> CompensatedFiles:
        """The GridFS file store, compensated by this unit of work."""
        self._require_active()
        return self._files

    def _require_active(self) -> None:
        if not self._active:
            raise UnitOfWorkError("use the unit of work inside `async with uow:`")

    @asynccontextmanager
    async def operation(self) -> AsyncIterator[None]:
        """Serialize repository operations: one session never runs two at once."""
        self._require_active()
        async with self._lock:
            yield

    async def __aenter__(self) -> MongoUnitOfWork:
        if self._enter_nested():
            return self
        self._switches = ExitStack()
        if self.alias != DEFAULT_CONNECTION_NAME:  # the documents follow the unit's alias
            for document_cls in DOCUMENTS.values():
                self._switches.enter_context(override(document_cls, alias=self.alias))
        try:
            if self.transactions:
                await self._begin()
        except BaseException:
            self._switches.close()
            raise
        self._active = True
        return self

    async def _begin(self) -> None:
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._exit_nested(exc):
            return
        try:
            await self._end(commit=False, error=exc)
        finally:
            self._active = False
            self._failed = None
            try:
                await self._files.rolled_back()
            finally:
                self._switches.close()

    async def _end(self, *, commit: bool, error: BaseException | None = None) -> None:
        context, self._context = self._context, None
        if context is None:
            return
        if commit:
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
        else:
            # the real error tells the engine whether the server's state is uncertain
            # (a cancellation: the session is then killed, see engine.transactions)
            reason = error if error is not None else _Rollback()
            try:
                await context.__aexit__(type(reason), reason, reason.__traceback__)
            except BaseException as exc:
                if exc is not reason:
                    raise

    def doom(self, error: E_) -> E_:
        """Make the current transaction rollback-only after a refused write."""
        self._failed = error
        return error

    async def commit(self) -> None:
        """Commit the work done so far in the block; later work starts a new transaction."""
        self._require_active()
        if self._commit_nested():
            return
        async with self._lock:
            failed, self._failed = self._failed, None
            if failed is not None:
                if self.transactions:
                    await self._end(commit=False)
                    await self._begin()
                await self._files.rolled_back()
                raise UnitOfWorkError(
                    f"the unit of work was rolled back after an earlier error: {failed}"
                ) from failed
            if self.transactions:
                await self._end(commit=True)
                await self._begin()
            await self._files.committed()

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""
        self._require_active()
        if self._rollback_nested():
            return
        async with self._lock:
            self._failed = None
            if self.transactions:
                await self._end(commit=False)
                await self._begin()
            await self._files.rolled_back()
