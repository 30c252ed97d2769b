"""Replacing a stored file: the port's rule, written once for every file store."""

from __future__ import annotations

import contextlib
from typing import Any

from persistence.errors import NotFound, StoreUnavailable
from persistence.ports import FileInfo

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
    """``replace`` for a store with ``info``, ``delete`` and ``put``: put the new content,
    then delete the old file (GridFS has no in-place update; the memory store behaves
    the same), so a failure loses neither."""

    async def replace(
        self,
        file_id: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """New content in place of ``file_id`` (``NotFound`` if absent); the new id.

        If the old file cannot be deleted, the new one is removed again and the error
        raised: the old file stays current.  If the store cannot even say whether the
        deletion landed, ``StoreUnavailable(retry_safe=False)``.
        """
        store: Any = self
        old = await store.info(file_id)
        new_id = await put_in_place_of(
            store, old, data, filename=filename, content_type=content_type
        )
        try:
            await store.delete(file_id)
        except NotFound:
            return new_id  # deleted meanwhile: the new content stands
        except Exception:
            try:
                await store.info(file_id)
            except NotFound:
                return new_id  # the deletion landed although its reply was lost
            except Exception as unknown:
                raise StoreUnavailable(
                    "the store became unavailable while replacing a file: the old file "
                    "may be deleted and the new one stored; check before retrying",
                    retry_safe=False,
                ) from unknown
            with contextlib.suppress(Exception):
                await store.delete(new_id)
            raise
        return new_id
