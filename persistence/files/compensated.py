"""A unit of work's view of a non-transactional file store, with compensation.

Both units of work hand this to services as ``uow.files``: a file put in the block is
deleted again if the block rolls back; a file deleted in the block is hidden from the
block at once and deleted from the store only once the block commits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from persistence.errors import FileStoreError, NotFound, StoreUnavailable
from persistence.files.replacement import put_in_place_of
from persistence.ports import FileInfo, FileStore

__all__ = ["CompensatedFiles"]

_log = logging.getLogger(__name__)


class CompensatedFiles:
    """Wraps a :class:`FileStore`; the unit of work calls ``committed``/``rolled_back``."""

    transactional = False

    def __init__(self, store: FileStore) -> None:
        self.store = store
        self._put: list[str] = []
        self._deleted: list[str] = []

    def _visible(self, file_id: str) -> None:
        if file_id in self._deleted:
            raise NotFound("File", file_id)

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data`` now; deleted again if the block rolls back."""
        file_id = await self.store.put(
            data, filename=filename, content_type=content_type, metadata=metadata
        )
        self._put.append(file_id)
        return file_id

    async def read(self, file_id: str) -> bytes:
        """The whole content (``NotFound`` if absent or deleted in this block)."""
        self._visible(file_id)
        return await self.store.read(file_id)

    async def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content chunk by chunk."""
        self._visible(file_id)
        async for chunk in self.store.stream(file_id):
            yield chunk

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata."""
        self._visible(file_id)
        return await self.store.info(file_id)

    async def delete(self, file_id: str) -> None:
        """Hide the file now; delete it from the store after the commit."""
        self._visible(file_id)
        await self.store.info(file_id)  # NotFound now, not at commit
        self._deleted.append(file_id)

    def delete_after_commit(self, file_ids: Iterable[str]) -> None:
        """Hide the files now and delete them from the store after the commit (the
        files of removed aggregates; one already gone is skipped then)."""
        self._deleted.extend(i for i in file_ids if i not in self._deleted)

    async def ids(self) -> list[str]:
        """Every stored file's id but those deleted in this block."""
        return [i for i in await self.store.ids() if i not in self._deleted]

    async def sweep_orphans(self, *, grace: float = 3600.0) -> list[str]:
        """The store's sweep of files never completed (see the port)."""
        return await self.store.sweep_orphans(grace=grace)

    async def replace(
        self,
        file_id: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Put the new content (compensated) and delete the old file after the commit."""
        old = await self.info(file_id)
        new_id = await put_in_place_of(
            self, old, data, filename=filename, content_type=content_type
        )
        self._deleted.append(file_id)
        return new_id

    async def committed(self) -> None:
        """The block committed: carry out the deferred deletions.  A file the store
        cannot delete now stays (logged): the commit stands either way, and an error
        here would make the caller think it had not."""
        deleted, self._deleted, self._put = self._deleted, [], []
        await _delete_quietly(self.store, deleted, "deleted by a committed block")

    def forget(self) -> None:
        """Whether the block committed is unknown: leave every file as it stands (a
        file put stays, possibly an orphan; a deletion is not carried out), so that a
        block that did commit never refers to a deleted file."""
        self._put, self._deleted = [], []

    async def rolled_back(self) -> None:
        """The block rolled back: delete what it put, forget what it deleted.  A file
        the store cannot delete now stays (logged); the block's own error stands."""
        put, self._put, self._deleted = self._put, [], []
        await _delete_quietly(self.store, list(reversed(put)), "put by a rolled-back block")


async def _delete_quietly(store: FileStore, file_ids: list[str], why: str) -> None:
    """Delete ``file_ids``; one already gone is skipped, one the store fails to delete
    is left in place and logged (``ids()`` lists it for an audit)."""
    left: list[str] = []
    for file_id in file_ids:
        try:
            await store.delete(file_id)
        except NotFound:
            pass
        except (StoreUnavailable, FileStoreError):
            left.append(file_id)
    if left:
        _log.warning(
            "the file store could not delete %d file(s) %s; they stay: %s",
            len(left),
            why,
            ", ".join(left),
        )
