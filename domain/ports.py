"""Ports: what the domain needs from persistence, implemented by ``adapters/``."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from .entities import Account, Product, User
from .library import Author, Book, Comment, Contract, Post, Review, Shelf
from .relations import Loaded
from .specs import ALL, FIRST_PAGE, NO_ORDER, Changes, GroupBy, Order, Page, Predicate

__all__ = ["FileInfo", "FileStore", "QueryRepository", "Repository", "UnitOfWork"]

E = TypeVar("E")
T = TypeVar("T")


@runtime_checkable
class Repository(Protocol[E]):
    """The collection of one aggregate type, seen through a unit of work.

    Returns materialized entities (copies: changing one changes nothing stored until
    it is saved) and never commits.
    """

    async def add(self, entity: E) -> E:
        """Stage a new entity; ``Conflict`` on a duplicate id or unique field."""
        ...

    async def get(self, entity_id: str) -> E:
        """The entity with ``entity_id``; ``NotFound`` if there is none."""
        ...

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """Entities in the order of ``ids``; missing ids skipped, duplicates collapsed."""
        ...

    async def save(self, entity: E) -> E:
        """Stage changes to an existing entity.

        ``NotFound`` if it does not exist, ``ConcurrencyConflict`` if its ``version`` is
        not the stored one, ``Conflict`` on a unique clash.  The version is incremented
        on the stored copy and on ``entity``, which is returned.
        """
        ...

    async def remove(self, entity_id: str) -> None:
        """Stage the removal of an entity with the delete rules of :mod:`domain.relations`.

        ``NotFound`` if absent.  ``DeleteDenied`` if a ``DENY`` rule forbids it: nothing
        is removed and the unit goes on, unless the refusal came from an aggregate
        reached by a cascade, which makes the unit rollback-only.
        """
        ...


@runtime_checkable
class QueryRepository(Repository[E], Protocol[E]):
    """A repository that answers query specs (:mod:`domain.specs`), with MongoDB's semantics.

    Every method refuses a field the entity lacks with ``UnknownField`` before any query,
    and a spec it cannot translate with ``UnsupportedSpec``.
    """

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """Matching entities in ``order`` (the id breaks ties), paged."""
        ...

    def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """Matching entities one by one, fetched in batches."""
        ...

    async def first(self, spec: Predicate = ALL, *, order: Order = NO_ORDER) -> E | None:
        """The first matching entity, or None."""
        ...

    async def find_related(
        self,
        spec: Predicate = ALL,
        *,
        with_related: Iterable[str],
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[Loaded[E]]:
        """``find`` with the named relations loaded (``with_related=("author",)``).

        One query for the entities plus one per related repository.
        """
        ...

    async def count(self, spec: Predicate = ALL) -> int:
        """How many entities match."""
        ...

    async def exists(self, spec: Predicate = ALL) -> bool:
        """True if any entity matches."""
        ...

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """Distinct values at ``path`` (array elements counted singly; order unspecified)."""
        ...

    async def project(
        self,
        fields: Iterable[str],
        spec: Predicate = ALL,
        *,
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[dict[str, Any]]:
        """``{"id": ..., path: value}`` rows of the matching entities."""
        ...

    async def aggregate(self, group: GroupBy) -> list[dict[str, Any]]:
        """Grouped rows: the key paths and the aggregate names."""
        ...

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """Add several entities in one go (``Conflict`` as ``add`` does)."""
        ...

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """Apply a typed change set to every match (validated first); the count."""
        ...

    async def remove_where(self, spec: Predicate) -> int:
        """Remove every match, with the delete rules of ``remove``; the count."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """A block of work that is atomic: all of it is kept, or none.

    Rule: inside ``async with uow:`` writes are kept only by ``await uow.commit()``.
    Leaving the block without committing, normally or by an exception (which
    propagates), rolls back everything since the last commit.  ``commit`` may be called
    more than once; work after a commit is a new unit.  A write refused with
    ``Conflict`` (or ``ConcurrencyConflict``) makes the current unit rollback-only, as a
    failed write aborts a MongoDB transaction: ``commit`` then raises
    ``UnitOfWorkError`` and keeps nothing; ``rollback`` starts afresh.  Repositories
    (``uow.users``) used outside a block raise ``UnitOfWorkError``.

    Blocks compose: a nested ``async with uow:`` (a service called by a service) joins
    the open block; only the outermost ``commit()`` commits, and a nested block that
    raises, is rolled back or ends without its ``commit()`` makes the whole unit
    rollback-only.  A block opened after the previous one ended is a new unit.
    Operations of one unit never overlap, even when the caller gathers them.

    Without transactions (a standalone server, mongomock) a unit of work that needs
    them raises ``TransactionsUnsupported`` when the block starts.

    ``files`` is not transactional, so the unit compensates: a file put in the block
    is deleted if the block rolls back; a file deleted in the block disappears from the
    block at once but is deleted from the store only after the commit.
    """

    users: QueryRepository[User]
    products: QueryRepository[Product]
    authors: QueryRepository[Author]
    books: QueryRepository[Book]
    reviews: QueryRepository[Review]
    shelves: QueryRepository[Shelf]
    contracts: QueryRepository[Contract]
    posts: QueryRepository[Post]
    comments: QueryRepository[Comment]
    accounts: QueryRepository[Account]
    files: FileStore

    def repository(self, name: str) -> QueryRepository[Any]:
        """The repository called ``name`` (``"books"``); ``KeyError`` if none."""
        ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Keep the work done in the block so far."""
        ...

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``await work(uow)`` in a block, then commit; return its result.

        On a write conflict (``ConcurrencyConflict``, a transient transaction error) the
        whole block runs again with fresh reads, as long as the unit of work's retry
        policy allows (the adapters': 120 s of jittered exponential backoff).
        """
        ...

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""
        ...


@attrs.frozen(kw_only=True)
class FileInfo:
    """What a file store knows about a stored file."""

    id: str
    filename: str
    length: int
    content_type: str | None = None
    upload_date: datetime.datetime | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class FileStore(Protocol):
    """Binary files kept beside the entities.

    Not transactional (``transactional`` is False): a store cannot take part in a
    database transaction, so a unit of work compensates (a file put in a block that
    rolls back is deleted; a file deleted in a block is deleted only after the commit).
    """

    transactional: bool

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data`` (bytes, or chunks streamed in); return the new file's id."""
        ...

    async def read(self, file_id: str) -> bytes:
        """The whole content; ``NotFound`` if absent."""
        ...

    def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content in chunks, never all held at once; ``NotFound`` if absent."""
        ...

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata; ``NotFound`` if absent."""
        ...

    async def delete(self, file_id: str) -> None:
        """Remove the file; ``NotFound`` if absent."""
        ...

    async def ids(self) -> list[str]:
        """The ids of every stored file (to audit for orphans)."""
        ...

    async def sweep_orphans(self, *, grace: float = 3600.0) -> list[str]:
        """Remove the content of files never completed (a put cut short by a crash, or
        whose cleanup could not reach the store) once older than ``grace`` seconds (an
        upload still running has no complete file yet either); the ids removed."""
        ...

    async def replace(
        self,
        file_id: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Store new content in place of ``file_id`` (``NotFound`` if absent); the new id.

        Name and content type are kept unless given.
        """
        ...
