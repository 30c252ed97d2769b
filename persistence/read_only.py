"""What a read-only unit of work hands out: repositories and a file store whose writes
are refused with ``UnitOfWorkError`` before any I/O; every read passes through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

from persistence.errors import UnitOfWorkError
from persistence.ports import FileInfo

__all__ = ["ReadOnlyFiles", "ReadOnlyRepository", "refused_write"]

REPOSITORY_WRITES = frozenset({"add", "add_many", "save", "remove", "update_where", "remove_where"})


def refused_write(what: str) -> UnitOfWorkError:
    """The error for a write through a read-only unit of work."""
    return UnitOfWorkError(
        f"{what}: this unit of work is read-only (made by reading() or with "
        "read_only=True); write through a unit of work made without it"
    )


class ReadOnlyRepository:
    """A repository's reads; its writes raise :func:`refused_write`'s error."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr in REPOSITORY_WRITES:

            async def refuse(*args: Any, **kwargs: Any) -> NoReturn:
                raise refused_write(f"{self._name}.{attr}")

            return refuse
        return getattr(self._inner, attr)


class ReadOnlyFiles:
    """A file store's reads; ``put``, ``replace``, ``delete`` and ``sweep_orphans``
    raise :func:`refused_write`'s error."""

    transactional = False

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def read(self, file_id: str) -> bytes:
        """The whole content (``NotFound`` if absent)."""
        return await self._inner.read(file_id)  # type: ignore[no-any-return]

    async def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content chunk by chunk."""
        async for chunk in self._inner.stream(file_id):
            yield chunk

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata."""
        return await self._inner.info(file_id)  # type: ignore[no-any-return]

    async def ids(self) -> list[str]:
        """Every stored file's id."""
        return await self._inner.ids()  # type: ignore[no-any-return]

    async def put(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise refused_write("files.put")

    async def replace(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise refused_write("files.replace")

    async def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise refused_write("files.delete")

    async def sweep_orphans(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise refused_write("files.sweep_orphans")
