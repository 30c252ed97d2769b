"""An in-memory file store with GridFS's observable behaviour."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from domain.errors import NotFound
from domain.ids import new_id
from domain.ports import FileInfo

from ..file_replacement import ReplacedByPut

__all__ = ["InMemoryFileStore"]

CHUNK_SIZE = 255 * 1024  # GridFS's default chunk size


class InMemoryFileStore(ReplacedByPut):
    """Files kept in a dict; ids are new ObjectId-shaped strings.  Not transactional."""

    transactional = False

    def __init__(self) -> None:
        self.files: dict[str, tuple[FileInfo, bytes]] = {}

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data`` (bytes or streamed chunks); the new id."""
        if not isinstance(data, (bytes, bytearray)):
            data = b"".join([bytes(part) async for part in data])
        file_id = new_id()
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        info = FileInfo(
            id=file_id,
            filename=filename,
            length=len(data),
            content_type=content_type,
            upload_date=now.replace(microsecond=now.microsecond // 1000 * 1000),
            metadata=dict(metadata or {}),
        )
        self.files[file_id] = (info, bytes(data))
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
