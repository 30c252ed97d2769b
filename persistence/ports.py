"""Ports: what the domain needs from persistence, implemented by ``adapters/``."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, overload, runtime_checkable

import attrs

from persistence.aggregation import Aggregation
from persistence.relations import Loaded
from persistence.specs import ALL, FIRST_PAGE, NO_ORDER, Changes, Order, Page, Predicate

__all__ = [
    "AggregateRepository",
    "FileInfo",
    "FileStore",
    "QueryRepository",
    "Repository",
    "UnitOfWork",
]

E = TypeVar("E")
T = TypeVar("T")
X = TypeVar("X", bound=BaseException)


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
        """Stage the removal of an entity with the delete rules its Document declares.

        ``NotFound`` if absent.  ``DeleteDenied`` if a ``DENY`` rule forbids it: nothing
        is removed and the unit goes on, unless the refusal came from an aggregate
        reached by a cascade, which makes the unit rollback-only.
        """
        ...


@runtime_checkable
class QueryRepository(Repository[E], Protocol[E]):
    """A repository that answers query specs (:mod:`persistence.specs`), with MongoDB's semantics.

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

    async def aggregate(self, spec: Aggregation) -> list[dict[str, Any]]:
        """Rows of groups (:mod:`persistence.aggregation`): the key names then the value names.

        Paths are checked against the stored shape first: ``UnknownField``, or
        ``UnsupportedSpec`` for a path crossing an array that is not unwound.
        """
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


R = TypeVar("R", bound="AggregateRepository[Any]")
U = TypeVar("U", bound="UnitOfWork")


class AggregateRepository(Generic[E]):
    """Base of an aggregate's own repository class: the port's methods, plus yours.

    Register it with the aggregate (``registry.add(Order, OrderDocument,
    repository=OrderRepository)``) and every adapter hands it out for that aggregate
    (``uow.repo(Order)``, ``uow.repo(OrderRepository)``), wrapping the adapter's own
    repository.  Build the extra methods on the port's::

        class OrderRepository(AggregateRepository[Order]):
            async def of_customer(self, customer_id: str) -> list[Order]:
                return await self.find(F("customer_id") == customer_id)
    """

    def __init__(self, inner: QueryRepository[E]) -> None:
        self.inner = inner

    async def add(self, entity: E) -> E:
        """See :meth:`Repository.add`."""
        return await self.inner.add(entity)

    async def get(self, entity_id: str) -> E:
        """See :meth:`Repository.get`."""
        return await self.inner.get(entity_id)

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """See :meth:`Repository.get_many`."""
        return await self.inner.get_many(ids)

    async def save(self, entity: E) -> E:
        """See :meth:`Repository.save`."""
        return await self.inner.save(entity)

    async def remove(self, entity_id: str) -> None:
        """See :meth:`Repository.remove`."""
        await self.inner.remove(entity_id)

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """See :meth:`QueryRepository.find`."""
        return await self.inner.find(spec, order=order, page=page)

    def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """See :meth:`QueryRepository.iterate`."""
        return self.inner.iterate(spec, order=order, batch_size=batch_size)

    async def first(self, spec: Predicate = ALL, *, order: Order = NO_ORDER) -> E | None:
        """See :meth:`QueryRepository.first`."""
        return await self.inner.first(spec, order=order)

    async def find_related(
        self,
        spec: Predicate = ALL,
        *,
        with_related: Iterable[str],
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[Loaded[E]]:
        """See :meth:`QueryRepository.find_related`."""
        return await self.inner.find_related(
            spec, with_related=with_related, order=order, page=page
        )

    async def count(self, spec: Predicate = ALL) -> int:
        """See :meth:`QueryRepository.count`."""
        return await self.inner.count(spec)

    async def exists(self, spec: Predicate = ALL) -> bool:
        """See :meth:`QueryRepository.exists`."""
        return await self.inner.exists(spec)

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """See :meth:`QueryRepository.distinct`."""
        return await self.inner.distinct(path, spec)

    async def project(
        self,
        fields: Iterable[str],
        spec: Predicate = ALL,
        *,
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[dict[str, Any]]:
        """See :meth:`QueryRepository.project`."""
        return await self.inner.project(fields, spec, order=order, page=page)

    async def aggregate(self, spec: Aggregation) -> list[dict[str, Any]]:
        """See :meth:`QueryRepository.aggregate`."""
        return await self.inner.aggregate(spec)

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """See :meth:`QueryRepository.add_many`."""
        return await self.inner.add_many(entities)

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """See :meth:`QueryRepository.update_where`."""
        return await self.inner.update_where(spec, changes)

    async def remove_where(self, spec: Predicate) -> int:
        """See :meth:`QueryRepository.remove_where`."""
        return await self.inner.remove_where(spec)


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
    (``uow.repo(Order)``) used outside a block raise ``UnitOfWorkError``.

    Repositories: ``uow.repo(Order)`` is the repository of the registered entity class
    ``Order`` (typed ``QueryRepository[Order]``), ``uow.repo(OrderRepository)`` the
    aggregate's own repository class if it registered one, ``uow.repository("orders")``
    the one with that registered name.  An application wanting attribute names
    (``uow.orders``) declares its own protocol extending this one with read-only
    properties (``def orders(self) -> QueryRepository[Order]``): both adapters resolve
    an attribute named like a registered repository to it.

    A unit of work is a factory of blocks, one per task: every task that enters
    ``async with uow:`` (or calls ``run``) gets its own block, and ``uow.orders``,
    ``commit`` and ``rollback`` act on the calling task's block, so one unit may be
    shared by concurrent tasks (an application-wide unit).  A task created inside a
    block does not join it; it opens its own.  Blocks compose: a nested
    ``async with uow:`` in the same task (a service called by a service) joins the open
    block; only the outermost ``commit()`` commits, and a nested block that raises, is
    rolled back or ends without its ``commit()`` makes the whole unit rollback-only.  A
    block opened after the previous one ended is a new unit.  Operations of one block
    never overlap, even when the caller gathers them.

    A commit whose answer is lost is settled before ``commit`` returns (it landed) or
    raises (``StoreUnavailable`` with ``retry_safe`` if it did not,
    ``CommitOutcomeUnknown`` if that cannot be learnt): a block is never run again
    after a commit that may have landed.

    Without transactions (a standalone server, mongomock) a unit of work that needs
    them raises ``TransactionsUnsupported`` when the block starts.

    ``files`` is not transactional, so the unit compensates: a file put in the block
    is deleted if the block rolls back; a file deleted in the block disappears from the
    block at once but is deleted from the store only after the commit.
    """

    @property
    def files(self) -> FileStore:
        """The file store, compensated by the unit of work."""
        ...

    def publish(self, event: object, *, key: str | None = None) -> None:
        """Record a domain event in the block: written with the block's commit (in its
        transaction), never if the block rolls back (see docs/events.md)."""
        ...

    async def record_processed(self, consumer: str, event_id: str) -> bool:
        """Mark an event processed by ``consumer`` in the block (kept if it commits);
        False if a committed block already marked it (see docs/events.md)."""
        ...

    @property
    def read_only(self) -> bool:
        """True for a unit of work made by :meth:`reading`."""
        ...

    def reading(self: U) -> U:
        """A read-only unit of work over the same store, for requests that only read.

        It opens no transaction: each read sees what is committed when it runs (two
        reads in one block may see different commits in between).  Every write through
        it (repositories and files) raises ``UnitOfWorkError`` before any I/O.
        """
        ...

    @overload
    def repo(self, key: type[R]) -> R: ...

    @overload
    def repo(self, key: type[E]) -> QueryRepository[E]: ...

    def repo(self, key: type[Any]) -> Any:
        """The repository of a registered entity class (or of the aggregate's own
        repository class); ``KeyError`` if it is not registered."""
        ...

    def repository(self, name: str) -> QueryRepository[Any]:
        """The repository registered as ``name``; ``KeyError`` if none."""
        ...

    async def __aenter__(self: U) -> U: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Keep the work done in the block so far."""
        ...

    async def run(self: U, work: Callable[[U], Awaitable[T]], *, policy: Any = None) -> T:
        """``await work(uow)`` in a block of the calling task, then commit; return what
        ``work`` returned once the commit landed.

        ``work`` receives this unit of work.  On a write conflict (``ConcurrencyConflict``,
        a transient transaction error) or an outage that applied nothing
        (``StoreUnavailable`` with ``retry_safe``) the whole block runs again with fresh
        reads, as long as ``policy`` (an adapter's retry policy; default the unit of
        work's own: 120 s for conflicts, 30 s for outages, jittered exponential backoff)
        allows; never after a commit that may have landed.  Inside a block already open
        in the calling task it joins that block: no commit of its own, no retry.
        """
        ...

    async def commit_landed(self, commit_id: str) -> bool:
        """Whether the commit named by a ``CommitOutcomeUnknown``'s ``commit_id`` landed
        (final once answered; ``StoreUnavailable`` while the store is out of reach)."""
        ...

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""
        ...

    def mark_rollback_only(self, error: X) -> X:
        """Make the current unit rollback-only because of ``error``; return ``error``."""
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

    Every failure is a domain error: ``StoreUnavailable`` for an outage, ``Conflict``
    for other content under a new file's id, ``FileStoreError`` for a refusal, a
    damaged file or a backend without files; content that is not bytes (or an async
    iterable of bytes) is a ``TypeError`` before anything is stored.
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
