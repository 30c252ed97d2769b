"""Ports: what the domain needs from persistence, implemented by ``adapters/``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from .entities import User

__all__ = ["FileInfo", "FileStore", "Repository", "UnitOfWork"]

E = TypeVar("E")


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
        """Stage the removal of an entity (with its delete rules); ``NotFound`` if absent."""
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
    """

    users: Repository[User]

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

    Not transactional: a store cannot take part in a database transaction, so a unit of
    work compensates (a file put in a block that rolls back is deleted; a file deleted
    in a block is deleted only after the commit).
    """

    async def put(
        self,
        data: bytes,
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data``; return the new file's id."""
        ...

    async def read(self, file_id: str) -> bytes:
        """The whole content; ``NotFound`` if absent."""
        ...

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata; ``NotFound`` if absent."""
        ...

    async def delete(self, file_id: str) -> None:
        """Remove the file; ``NotFound`` if absent."""
        ...

    async def replace(
        self,
        file_id: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Replace the content of a file; return the new id."""
        ...
