"""The in-memory unit of work: writes staged in an overlay, applied atomically on commit."""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

from domain.aggregates import AGGREGATES
from domain.entities import Account, Product, User
from domain.errors import ConcurrencyConflict, Conflict, UnitOfWorkError
from domain.library import Author, Book, Comment, Contract, Post, Review, Shelf

from ..compensated_files import CompensatedFiles
from ..composition import Composition
from ..repository_slot import RepositorySlot
from .files import InMemoryFileStore
from .repositories import DELETED, InMemoryQueries
from .store import InMemoryStore

__all__ = ["InMemoryUnitOfWork"]

E = TypeVar("E", bound=BaseException)


class InMemoryUnitOfWork(Composition):
    """``async with uow:`` stages writes; ``commit()`` applies them all or none.

    Same rule as every unit of work: leaving the block without ``commit()`` rolls
    back.  Units of work on one :class:`InMemoryStore` (for example one per task) never
    see each other's uncommitted writes; a commit whose reads went stale (another unit
    committed a newer version meanwhile) raises ``ConcurrencyConflict`` and applies
    nothing.  ``files`` is the store's :class:`InMemoryFileStore` with the port's
    compensation.
    """

    users: RepositorySlot[InMemoryQueries[User]] = RepositorySlot()
    products: RepositorySlot[InMemoryQueries[Product]] = RepositorySlot()
    authors: RepositorySlot[InMemoryQueries[Author]] = RepositorySlot()
    books: RepositorySlot[InMemoryQueries[Book]] = RepositorySlot()
    reviews: RepositorySlot[InMemoryQueries[Review]] = RepositorySlot()
    shelves: RepositorySlot[InMemoryQueries[Shelf]] = RepositorySlot()
    contracts: RepositorySlot[InMemoryQueries[Contract]] = RepositorySlot()
    posts: RepositorySlot[InMemoryQueries[Post]] = RepositorySlot()
    comments: RepositorySlot[InMemoryQueries[Comment]] = RepositorySlot()
    accounts: RepositorySlot[InMemoryQueries[Account]] = RepositorySlot()

    def __init__(
        self, store: InMemoryStore | None = None, files: InMemoryFileStore | None = None
    ) -> None:
        self.store = store if store is not None else InMemoryStore()
        self._staged: dict[str, dict[str, Any]] = {}
        # (table, id) -> the committed entity the staged write was based on (None: absent)
        self._expected: dict[tuple[str, str], Any] = {}
        self._active = False
        self._failed: BaseException | None = None
        self._repositories: dict[str, InMemoryQueries[Any]] = {
            name: InMemoryQueries(self, name, aggregate.entity_cls, unique=aggregate.unique)
            for name, aggregate in AGGREGATES.items()
        }
        self._files = CompensatedFiles(files if files is not None else self.store.files)

    def repository(self, name: str) -> InMemoryQueries[Any]:
        """The repository called ``name``; ``KeyError`` if there is none."""
        self.require_active()
        return self._repositories[name]

    @property
    def files(self) -> CompensatedFiles:
        """The file store, compensated by this unit of work."""
        self.require_active()
        return self._files

    def stage(self, table: str, entity_id: str, entity: Any | None) -> None:
        """Stage ``entity`` (None: a removal) as the new state of ``table``'s ``entity_id``."""
        self.expect(table, entity_id)
        self.staged(table)[entity_id] = DELETED if entity is None else entity

    def require_active(self) -> None:
        """``UnitOfWorkError`` outside ``async with``."""
        if not self._active:
            raise UnitOfWorkError("use the unit of work inside `async with uow:`")

    def staged(self, table: str) -> dict[str, Any]:
        """The staged writes of ``table`` (``DELETED`` marks a removal)."""
        return self._staged.setdefault(table, {})

    def expect(self, table: str, entity_id: str) -> None:
        """Remember what a staged write was based on, the first time it is staged."""
        self._expected.setdefault((table, entity_id), self.store.table(table).get(entity_id))

    async def __aenter__(self) -> InMemoryUnitOfWork:
        if self._enter_nested():
            return self
        self._discard()
        self._active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._exit_nested(exc):
            return
        self._discard()
        self._active = False
        await self._files.rolled_back()

    def _discard(self) -> None:
        self._staged = {}
        self._expected = {}
        self._failed = None

    def doom(self, error: E) -> E:
        """Make the current unit rollback-only after a refused write; return ``error``."""
        self._failed = error
        return error

    async def rollback(self) -> None:
        """Discard the staged writes (and delete the files put since the last commit)."""
        self.require_active()
        if self._rollback_nested():
            return
        self._discard()
        await self._files.rolled_back()

    async def commit(self) -> None:
        """Check every staged write against the committed state, then apply them all."""
        self.require_active()
        if self._commit_nested():
            return
        if self._failed is not None:
            failed = self._failed
            self._discard()
            await self._files.rolled_back()
            raise UnitOfWorkError(
                f"the unit of work was rolled back after an earlier error: {failed}"
            ) from failed
        async with self.store.commit_lock:
            self._check()
            for table, writes in self._staged.items():
                committed = self.store.table(table)
                for entity_id, entity in writes.items():
                    if entity is DELETED:
                        committed.pop(entity_id, None)
                    else:
                        committed[entity_id] = entity
        self._discard()
        await self._files.committed()

    def _check(self) -> None:
        for (table, entity_id), based_on in self._expected.items():
            committed = self.store.table(table).get(entity_id)
            if committed is based_on:
                continue
            if based_on is None:
                raise Conflict(table, "id")
            raise ConcurrencyConflict(table, entity_id)
        for repository in self._repositories.values():
            final = self._final_items(repository.table)
            for entity in self.staged(repository.table).values():
                if entity is not DELETED:
                    repository.check_unique(entity, final)

    def _final_items(self, table: str) -> list[tuple[str, Any]]:
        final = dict(self.store.table(table))
        for entity_id, entity in self.staged(table).items():
            if entity is DELETED:
                final.pop(entity_id, None)
            else:
                final[entity_id] = entity
        return list(final.items())
