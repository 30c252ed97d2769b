"""A GridFS file store over the engine's ``FileField`` API (``GridFSProxy`` twins)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from bson import ObjectId
from mongoengine.connection import DEFAULT_CONNECTION_NAME
from mongoengine.fields import GridFSProxy

from domain.errors import NotFound
from domain.ports import FileInfo
from persistence.engine.connection import get_async_db
from persistence.engine.files import StreamingWriter
from persistence.mapping import to_object_id

from ..file_replacement import ReplacedByPut

__all__ = ["GridFSFileStore"]


_DELETE_BATCH = 500  # file ids per delete of orphan chunks


class GridFSFileStore(ReplacedByPut):
    """Files in the GridFS bucket ``bucket`` of an async alias.  Not transactional:
    GridFS cannot join a MongoDB transaction, so its writes land at once.  A put that
    fails or is cancelled removes the chunks it wrote; :meth:`sweep_orphans` removes
    those a crash left."""

    transactional = False

    def __init__(self, alias: str = DEFAULT_CONNECTION_NAME, bucket: str = "fs") -> None:
        self.alias = alias
        self.bucket = bucket

    def _proxy(self, file_id: Any = None) -> GridFSProxy:
        return GridFSProxy(grid_id=file_id, db_alias=self.alias, collection_name=self.bucket)

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data``; streamed chunks are written one at a time.  On any failure
        (cancellation included) the chunks written so far are removed."""
        extra: dict[str, Any] = {"filename": filename, "metadata": dict(metadata or {})}
        if content_type is not None:
            extra["content_type"] = content_type
        if isinstance(data, (bytes, bytearray)):
            proxy = self._proxy()
            await proxy.async_put(bytes(data), **extra)
            return str(proxy.grid_id)
        writer = StreamingWriter(get_async_db(self.alias), self.bucket, **extra)
        try:
            async for part in data:
                await writer.write(part)
        except BaseException:
            await writer.abort()
            raise
        await writer.close()
        return str(writer._id)

    async def _opened(self, file_id: str) -> Any:
        oid = to_object_id(file_id)
        grid_out = None if oid is None else await self._proxy(oid).async_get()
        if grid_out is None:
            raise NotFound("File", file_id)
        return grid_out

    async def read(self, file_id: str) -> bytes:
        """The whole content."""
        oid = to_object_id(file_id)
        data = None if oid is None else await self._proxy(oid).async_read()
        if data is None:
            raise NotFound("File", file_id)
        return data  # type: ignore[no-any-return]

    async def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content one GridFS chunk at a time."""
        await self._opened(file_id)
        async for chunk in self._proxy(to_object_id(file_id)).async_iter_chunks():
            yield chunk

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata, from its ``files`` document."""
        grid_out = await self._opened(file_id)
        return FileInfo(
            id=file_id,
            filename=grid_out.filename,
            length=grid_out.length,
            content_type=grid_out.content_type,
            upload_date=grid_out.upload_date.replace(tzinfo=None),
            metadata=dict(grid_out.metadata or {}),
        )

    async def delete(self, file_id: str) -> None:
        """Remove the file and its chunks."""
        await self._opened(file_id)
        await self._proxy(to_object_id(file_id)).async_delete()

    async def ids(self) -> list[str]:
        """Every stored file's id (from the bucket's ``files`` collection)."""
        files = get_async_db(self.alias)[f"{self.bucket}.files"]
        return [str(doc["_id"]) async for doc in files.find({}, {"_id": 1})]

    async def orphans(self, *, grace: float = 3600.0) -> list[ObjectId]:
        """Ids of files that have chunks but no files document and were started at
        least ``grace`` seconds ago (to the second: a GridFS id is an ObjectId that
        carries its creation time; chunks of files with other ids are never counted)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        cutoff = ObjectId.from_datetime(now - datetime.timedelta(seconds=grace - 1))
        db = get_async_db(self.alias)
        pipeline: list[dict[str, Any]] = [
            {"$match": {"files_id": {"$lt": cutoff}}},
            {"$group": {"_id": "$files_id"}},
            {
                "$lookup": {
                    "from": f"{self.bucket}.files",
                    "localField": "_id",
                    "foreignField": "_id",
                    "as": "file",
                }
            },
            {"$match": {"file": {"$size": 0}}},
            {"$project": {"_id": 1}},
        ]
        cursor = await db[f"{self.bucket}.chunks"].aggregate(pipeline)
        return [row["_id"] async for row in cursor]

    async def sweep_orphans(self, *, grace: float = 3600.0) -> list[str]:
        """Remove the chunks of every :meth:`orphans` file; the ids removed."""
        found = await self.orphans(grace=grace)
        chunks = get_async_db(self.alias)[f"{self.bucket}.chunks"]
        for start in range(0, len(found), _DELETE_BATCH):
            batch = found[start : start + _DELETE_BATCH]
            await chunks.delete_many({"files_id": {"$in": batch}})
        return [str(file_id) for file_id in found]
