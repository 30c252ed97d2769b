"""Replacing a stored file: the port's rule, written once for every file store."""

from __future__ import annotations

from typing import Any

from domain.ports import FileInfo

__all__ = ["ReplacedByPut", "put_in_place_of"]


async def put_in_place_of(
    store: Any, old: FileInfo, data: bytes, *, filename: str | None, content_type: str | None
) -> str:
    """Put ``data`` through ``store.put`` as the successor of ``old``: its name, content
    type and metadata are kept unless new ones are given.  Returns the new id."""
    return await store.put(  # type: ignore[no-any-return]
        data,
        filename=filename or old.filename,
        content_type=content_type if content_type is not None else old.content_type,
        metadata=old.metadata,
    )


class ReplacedByPut:
    """``replace`` for a store with ``info``, ``delete`` and ``put``: delete, then put
    (GridFS has no in-place update; the memory store behaves the same)."""

    async def replace(
        self,
        file_id: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """New content in place of ``file_id`` (``NotFound`` if absent); the new id."""
        store: Any = self
        old = await store.info(file_id)
        await store.delete(file_id)
        return await put_in_place_of(
            store, old, data, filename=filename, content_type=content_type
        )
