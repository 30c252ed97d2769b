"""An in-memory file store with GridFS's observable behaviour."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from persistence.errors import FileStoreError, NotFound
from persistence.files.content import checked_content, checked_part
from persistence.files.replacement import ReplacedByPut
from persistence.ids import new_id
from persistence.ports import FileInfo

__all__ = ["InMemoryFileStore"]

CHUNK_SIZE = 255 * 1024  # GridFS's default chunk size


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _as_read(naive_utc: datetime.datetime, tzinfo: datetime.tzinfo | None) -> datetime.datetime:
    """``naive_utc`` in milliseconds, as an alias reads it: naive UTC when ``tzinfo`` is
    None, otherwise aware in ``tzinfo``."""
    value = naive_utc.replace(microsecond=naive_utc.microsecond // 1000 * 1000)
    if tzinfo is None:
        return value
    return value.replace(tzinfo=datetime.timezone.utc).astimezone(tzinfo)


class InMemoryFileStore(ReplacedByPut):
    """Files kept in a dict; ids are new ObjectId-shaped strings.  Not transactional.

    A streamed put keeps its parts in ``partial`` until it completes, as GridFS keeps
    chunks without a files document: a failed put removes them, and
    :meth:`sweep_orphans` removes those older than its grace period.
    """

    transactional = False

    def __init__(self, *, tz_aware: bool = False, tzinfo: datetime.tzinfo | None = None) -> None:
        """``tz_aware`` / ``tzinfo``: upload dates as an alias with those options reads
        them (naive UTC by default; aware, in ``tzinfo`` or UTC, with ``tz_aware``)."""
        self.tzinfo = (tzinfo or datetime.timezone.utc) if tz_aware else None
        self.files: dict[str, tuple[FileInfo, bytes]] = {}
        self.partial: dict[str, tuple[datetime.datetime, list[bytes]]] = {}

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data`` (bytes or streamed chunks); the new id."""
        content = checked_content(data)
        file_id = new_id()
        if not isinstance(content, bytes):
            parts: list[bytes] = []
            self.partial[file_id] = (_now(), parts)
            try:
                async for part in content:
                    parts.append(checked_part(part))
            finally:
                swept = self.partial.pop(file_id, None) is None
            if swept:
                raise FileStoreError(
                    "the upload outlived the sweep's grace period and its parts were "
                    "removed, so the file was not stored: sweep with a grace longer than "
                    "any upload"
                )
            content = b"".join(parts)
        now = _now()
        info = FileInfo(
            id=file_id,
            filename=filename,
            length=len(content),
            content_type=content_type,
            upload_date=_as_read(now, self.tzinfo),
            metadata=dict(metadata or {}),
        )
        self.files[file_id] = (info, content)
        return file_id

    def _get(self, file_id: str) -> tuple[FileInfo, bytes]:
        try:
            return self.files[file_id]
        except KeyError:
            raise NotFound("File", file_id) from None

    async def read(self, file_id: str) -> bytes:
        """The whole content."""
        return self._get(file_id)[1]

    async def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content in GridFS-sized chunks."""
        data = self._get(file_id)[1]
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata."""
        return self._get(file_id)[0]

    async def delete(self, file_id: str) -> None:
        """Remove the file."""
        self._get(file_id)
        del self.files[file_id]

    async def ids(self) -> list[str]:
        """Every stored file's id."""
        return list(self.files)

    async def sweep_orphans(self, *, grace: float = 3600.0) -> list[str]:
        """Drop the parts of streamed puts started more than ``grace`` seconds ago and
        never completed; their ids."""
        cutoff = _now() - datetime.timedelta(seconds=grace)
        old = [file_id for file_id, (started, _) in self.partial.items() if started <= cutoff]
        for file_id in old:
            del self.partial[file_id]
        return old
