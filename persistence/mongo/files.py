"""A GridFS file store over the engine's async database and its streaming writer.

Every failure is a domain error (:func:`file_store_error`): ``StoreUnavailable`` for an
outage (``retry_safe`` when nothing of the operation can remain), ``Conflict`` for other
content under a file's id, ``FileStoreError`` for a refusal or a damaged file, and
``FilesUnsupported`` on mongomock, which has no GridFS.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bson import ObjectId
from gridfs.errors import CorruptGridFile
from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from persistence.engine.connection import get_async_db
from persistence.engine.files import StreamingWriter, iter_chunks
from persistence.errors import Conflict, DomainError, FileStoreError, FilesUnsupported, NotFound
from persistence.files.content import checked_content, checked_part
from persistence.files.replacement import ReplacedByPut
from persistence.mapping import to_object_id
from persistence.mongo.errors import unavailable_from
from persistence.ports import FileInfo

__all__ = ["GridFSFileStore", "file_store_error"]


_DELETE_BATCH = 500  # file ids per delete of orphan chunks
_PUT = "store the file"


def file_store_error(exc: BaseException, action: str, *, retry_safe: bool) -> DomainError | None:
    """The domain error for a driver or GridFS error of the store (None for others).

    ``action`` says what failed ("store the file"); ``retry_safe``: nothing of the
    operation can remain, so running it again cannot apply it twice.
    """
    unavailable = unavailable_from(exc, retry_safe=retry_safe)
    if unavailable is not None:
        return unavailable
    if isinstance(exc, DuplicateKeyError):
        return Conflict("File", "id", "other content is stored under the new file's id")
    if isinstance(exc, CorruptGridFile) and action == _PUT:
        return FileStoreError(
            "chunks of the upload were removed before it completed (a sweep with a grace "
            "shorter than the upload, or a crash), so the file was not stored: sweep with "
            "a grace longer than any upload"
        )
    if isinstance(exc, CorruptGridFile):
        return FileStoreError(
            f"could not {action}: part of the file's content is missing from the store"
        )
    if isinstance(exc, PyMongoError):
        code = f" (code {exc.code})" if isinstance(exc, OperationFailure) else ""
        return FileStoreError(f"the file store refused to {action}{code}")
    return None


@contextmanager
def _translated(action: str, *, retry_safe: bool = True) -> Iterator[None]:
    """Driver errors of the block as domain errors (retry-safe: reads and deletions)."""
    try:
        yield
    except PyMongoError as exc:
        error = file_store_error(exc, action, retry_safe=retry_safe)
        if error is None:  # pragma: no cover - every PyMongoError has a translation
            raise
        raise error from exc


class GridFSFileStore(ReplacedByPut):
    """Files in the GridFS bucket ``bucket`` of an async alias.  Not transactional:
    GridFS cannot join a MongoDB transaction, so its writes land at once.  A put that
    fails or is cancelled removes the chunks it wrote; :meth:`sweep_orphans` removes
    those a crash left.  A chunk whose insert the driver retried after its first
    attempt landed (the reply lost in a restart) is recognised and the put goes on."""

    transactional = False

    def __init__(self, alias: str = DEFAULT_CONNECTION_NAME, bucket: str = "fs") -> None:
        self.alias = alias
        self.bucket = bucket

    def _db(self) -> Any:
        db = get_async_db(self.alias)
        if not isinstance(db, AsyncDatabase):
            raise FilesUnsupported(
                f"alias {self.alias!r} is a mongomock database, which has no GridFS, so "
                "this unit of work has no file store: for tests on mongomock pass "
                "files=InMemoryFileStore() (persistence.memory.files) to MongoUnitOfWork, "
                "or test file handling against the server"
            )
        return db

    async def put(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        filename: str,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``data``, one chunk at a time (streamed parts as they come).  On any
        failure (cancellation included) the chunks written so far are removed."""
        content = checked_content(data)
        extra: dict[str, Any] = {"filename": filename, "metadata": dict(metadata or {})}
        if content_type is not None:
            extra["content_type"] = content_type
        writer = StreamingWriter(self._db(), self.bucket, **extra)
        storing = False  # False while the caller's iterable is asked for a part
        try:
            if isinstance(content, bytes):
                storing = True
                view = memoryview(content)
                for start in range(0, len(content), writer.chunk_size):
                    await writer.write(view[start : start + writer.chunk_size])
            else:
                async for part in content:
                    chunk = checked_part(part)
                    storing = True
                    await writer.write(chunk)
                    storing = False
            storing = True
            await writer.close()
        except BaseException as exc:
            removed = await writer.abort()
            if storing and isinstance(exc, PyMongoError):
                # retry-safe unless a files document may have landed and stayed
                retry_safe = removed or not writer.file_sent
                error = file_store_error(exc, _PUT, retry_safe=retry_safe)
                if error is not None:
                    raise error from exc
            raise
        return str(writer._id)

    async def _document(self, file_id: str, action: str) -> dict[str, Any]:
        """The file's ``files`` document (``NotFound`` if there is none)."""
        oid = to_object_id(file_id)
        db = self._db()
        document = None
        if oid is not None:
            with _translated(action):
                document = await db[f"{self.bucket}.files"].find_one({"_id": oid})
        if document is None:
            raise NotFound("File", file_id)
        return document  # type: ignore[no-any-return]

    async def read(self, file_id: str) -> bytes:
        """The whole content."""
        return b"".join([chunk async for chunk in self.stream(file_id)])

    async def stream(self, file_id: str) -> AsyncIterator[bytes]:
        """The content one GridFS chunk at a time (a few per round trip)."""
        document = await self._document(file_id, "read the file")
        chunks = iter_chunks(self._db(), self.bucket, document["_id"], document["length"])
        with _translated("read the file"):
            async for chunk in chunks:
                yield chunk

    async def info(self, file_id: str) -> FileInfo:
        """The file's metadata, from its ``files`` document (its upload date as the
        alias reads datetimes: naive UTC, or aware in the alias's ``tzinfo``)."""
        document = await self._document(file_id, "read the file's metadata")
        uploaded: datetime.datetime = document["uploadDate"]
        return FileInfo(
            id=file_id,
            filename=document.get("filename") or "",
            length=document["length"],
            content_type=document.get("contentType"),
            upload_date=uploaded,
            metadata=dict(document.get("metadata") or {}),
        )

    async def delete(self, file_id: str) -> None:
        """Remove the file, then its chunks (chunks a failure leaves are orphans, for
        :meth:`sweep_orphans`)."""
        document = await self._document(file_id, "delete the file")
        db = self._db()
        with _translated("delete the file"):
            await db[f"{self.bucket}.files"].delete_one({"_id": document["_id"]})
            await db[f"{self.bucket}.chunks"].delete_many({"files_id": document["_id"]})

    async def ids(self) -> list[str]:
        """Every stored file's id (from the bucket's ``files`` collection)."""
        files = self._db()[f"{self.bucket}.files"]
        with _translated("list the files"):
            return [str(doc["_id"]) async for doc in files.find({}, {"_id": 1})]

    async def orphans(self, *, grace: float = 3600.0) -> list[ObjectId]:
        """Ids of files that have chunks but no files document and were started at
        least ``grace`` seconds ago (to the second: a GridFS id is an ObjectId that
        carries its creation time; chunks of files with other ids are never counted)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        cutoff = ObjectId.from_datetime(now - datetime.timedelta(seconds=grace - 1))
        db = self._db()
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
        with _translated("list incomplete uploads"):
            cursor = await db[f"{self.bucket}.chunks"].aggregate(pipeline)
            return [row["_id"] async for row in cursor]

    async def sweep_orphans(self, *, grace: float = 3600.0) -> list[str]:
        """Remove the chunks of every :meth:`orphans` file; the ids removed."""
        found = await self.orphans(grace=grace)
        chunks = self._db()[f"{self.bucket}.chunks"]
        with _translated("remove incomplete uploads"):
            for start in range(0, len(found), _DELETE_BATCH):
                batch = found[start : start + _DELETE_BATCH]
                await chunks.delete_many({"files_id": {"$in": batch}})
        return [str(file_id) for file_id in found]
