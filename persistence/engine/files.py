"""GridFS on async aliases: MongoEngine's FileField code over PyMongo's ``AsyncGridFS``.

``GridFSProxy`` (and ``ImageGridFsProxy``, thumbnails included) runs unchanged inside
the bridge: its ``fs`` is a blocking facade over ``AsyncGridFS``, generated like the
other facades.  Its ``async_`` twins (``doc.file.async_read()``...) run those methods in
the bridge; streaming both ways is async-native (``async_iter_chunks``, ``async_writer``)
and holds one chunk at a time.  The field-level API of the async MongoEngine fork
(``await Model.file.async_put(data, instance=doc)``, ``async_get``, ...) hands out an
:class:`AsyncGridFSProxy` over the document's ``GridFSProxy``.

GridFS cannot take part in a transaction, so these calls never join the task's
session: a file written inside ``async_run_in_transaction`` is written at once.

A write that fails or is cancelled removes what it wrote (:func:`discard_file`); what a
crash leaves behind is for a sweep of chunks without a file document.
"""

from __future__ import annotations

import asyncio
import datetime
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pymongo
from bson import Binary, ObjectId
from gridfs.asynchronous.grid_file import AsyncGridFS, AsyncGridIn, AsyncGridOut
from gridfs.errors import CorruptGridFile, NoFile
from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError, ServerSelectionTimeoutError

from . import compat, connection
from .bridge import greenlet_spawn, in_bridge
from .facades import Facade, _build, unwrap

__all__ = [
    "AsyncGridFSProxy",
    "GridFSFacade",
    "GridInFacade",
    "GridOutFacade",
    "StreamingWriter",
    "discard_file",
    "field_async_methods",
    "iter_chunks",
    "proxy_async_methods",
]


class GridFSFacade(Facade):
    """Blocking view of an ``AsyncGridFS`` (for MongoEngine's GridFSProxy)."""

    __slots__ = ()


class GridOutFacade(Facade):
    """Blocking view of an ``AsyncGridOut`` (a file being read)."""

    __slots__ = ()

    def __iter__(self) -> Any:
        while True:
            chunk = self.readchunk()
            if not chunk:
                return
            yield chunk


class GridInFacade(Facade):
    """Blocking view of an ``AsyncGridIn`` (a file being written)."""

    __slots__ = ()


_build(GridFSFacade, AsyncGridFS, join_sessions=False)
_build(GridOutFacade, AsyncGridOut, join_sessions=False)
_build(GridInFacade, AsyncGridIn, join_sessions=False)


_CHUNK_SIZE = 255 * 1024
_READ_BATCH = 4  # chunks per round trip when streaming out: about 1 MB held
CLEANUP_TIMEOUT = 10.0  # seconds a failed write spends removing what it wrote

_cleanups: set[asyncio.Task[bool]] = set()


async def _remove(db: Any, bucket: str, file_id: Any) -> bool:
    try:
        with pymongo.timeout(CLEANUP_TIMEOUT):
            await db[f"{bucket}.chunks"].delete_many({"files_id": file_id})
            await db[f"{bucket}.files"].delete_one({"_id": file_id})
    except PyMongoError:
        return False
    return True


async def discard_file(db: Any, bucket: str, file_id: Any) -> bool:
    """Remove what a failed write of ``file_id`` left: its chunks, and a files document
    whose insert landed although its reply was lost.

    Runs to completion even if the caller is cancelled meanwhile, for at most
    ``CLEANUP_TIMEOUT`` seconds.  False if the store could not be reached: the chunks
    stay until a sweep of orphan chunks removes them.
    """
    task = asyncio.ensure_future(_remove(db, bucket, file_id))
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)
    return await asyncio.shield(task)


class StreamingWriter:
    """Writes one GridFS file chunk by chunk, holding at most one chunk.

    PyMongo's ``AsyncGridIn`` buffers up to 32 MB before inserting; this writer inserts
    each chunk as soon as it is full, in the GridFS format (``<bucket>.chunks`` then the
    ``<bucket>.files`` document on :meth:`close`).
    """

    def __init__(self, db: Any, bucket: str, **fields: Any) -> None:
        self._db = db
        self._bucket = bucket
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]
        self._own_id = fields.get("_id") is None  # a fresh id: nobody else writes to it
        self._id = fields.pop("_id", None) or ObjectId()
        self.chunk_size = int(fields.pop("chunk_size", fields.pop("chunkSize", _CHUNK_SIZE)))
        if "content_type" in fields:
            fields["contentType"] = fields.pop("content_type")
        self._fields = fields
        self._buffer = bytearray()
        self._n = 0
        self._length = 0
        self._indexed = False
        self.closed = False
        self._sent = False  # a chunk insert was sent: chunks may be stored
        self.file_sent = False  # the files document was sent: the file may exist

    async def _insert_chunk(self, data: bytes) -> None:
        if not self._indexed:
            await self._chunks.create_index([("files_id", 1), ("n", 1)], unique=True)
            await self._files.create_index([("filename", 1), ("uploadDate", 1)])
            self._indexed = True
        chunk = {"files_id": self._id, "n": self._n, "data": Binary(data)}
        try:
            await self._chunks.insert_one(chunk)
        except ServerSelectionTimeoutError:
            raise  # never sent (PyMongo reports a failed retry by the first error)
        except DuplicateKeyError:
            self._sent = True
            # a retried insert whose first attempt landed (its reply was lost)
            stored = await self._chunks.find_one({"files_id": self._id, "n": self._n})
            if not (self._own_id and stored is not None and bytes(stored["data"]) == data):
                raise
        except BaseException:
            self._sent = True  # it may have landed
            raise
        self._sent = True
        self._n += 1

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` to the file; full chunks are sent at once."""
        if self.closed:
            raise ValueError("cannot write to a closed file")
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= self.chunk_size:
            chunk = bytes(self._buffer[: self.chunk_size])
            del self._buffer[: self.chunk_size]
            await self._insert_chunk(chunk)

    async def close(self) -> None:
        """Send the last chunk and the files document: the file exists from now on."""
        if self.closed:
            return
        if self._buffer:
            await self._insert_chunk(bytes(self._buffer))
            self._buffer.clear()
        stored = await self._chunks.count_documents({"files_id": self._id})
        if stored != self._n:
            raise CorruptGridFile(
                f"{stored} of the {self._n} chunks of file {self._id!r} are stored (a sweep "
                "of orphans during the upload, or a crash, removed the others): the file "
                "was not written"
            )
        document = {
            "_id": self._id,
            "length": self._length,
            "chunkSize": self.chunk_size,
            "uploadDate": datetime.datetime.now(datetime.timezone.utc),
            **self._fields,
        }
        self.file_sent = True
        try:
            await self._files.insert_one(document)
        except DuplicateKeyError:
            if not self._own_id:  # a file with the caller's id exists
                raise
            # else a retried insert whose first attempt landed: the file is complete
        self.closed = True

    async def abort(self) -> bool:
        """Remove every chunk written so far (and a files document that landed); False
        if the store could not be reached (see :func:`discard_file`)."""
        self.closed = True
        self._buffer.clear()
        if not (self._sent or self.file_sent):
            return True  # nothing reached the server
        return await discard_file(self._db, self._bucket, self._id)


async def iter_chunks(
    db: Any, bucket: str, file_id: Any, length: int | None = None
) -> AsyncIterator[bytes]:
    """The chunks of a stored file in order, a few per round trip.  ``CorruptGridFile``
    for a missing chunk, or (given the files document's ``length``) a short end."""
    cursor = db[f"{bucket}.chunks"].find({"files_id": file_id}, sort=[("n", 1)])
    expected = received = 0
    async for chunk in cursor.batch_size(_READ_BATCH):
        if chunk["n"] != expected:
            raise CorruptGridFile(f"missing chunk {expected} of file {file_id!r}")
        expected += 1
        data = bytes(chunk["data"])
        received += len(data)
        yield data
    if length is not None and received != length:
        raise CorruptGridFile(f"file {file_id!r} holds {received} of its {length} bytes")


def async_fs(db_alias: str, collection_name: str) -> AsyncGridFS:
    """The ``AsyncGridFS`` of an async alias's bucket (``NotImplementedError`` on a
    mongomock alias: mongomock has no async GridFS)."""
    db = connection.get_async_db(db_alias)
    if not isinstance(db, AsyncDatabase):
        raise NotImplementedError(
            f"GridFS needs a MongoDB server: alias '{db_alias}' is a mongomock connection, "
            "and mongomock has no async GridFS"
        )
    return AsyncGridFS(db, collection_name)


def fs_wrapper(original: property) -> property:
    """``GridFSProxy.fs`` that is a blocking ``AsyncGridFS`` facade on async aliases."""
    fetch = original.fget

    def fs(self: Any) -> Any:
        if connection.is_async_connection(self.db_alias):
            if compat.proxy_fs(self) is None:
                fs = GridFSFacade(async_fs(self.db_alias, self.collection_name))
                compat.set_proxy_fs(self, fs)
            return compat.proxy_fs(self)
        return fetch(self)  # type: ignore[misc]

    return property(fs, doc=original.__doc__)


def guard_proxy_method(name: str, twin: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A GridFSProxy method that refuses to run outside the bridge on an async alias,
    naming ``twin`` (its row in :data:`~.twins.TWINS`)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not in_bridge() and connection.is_async_connection(self.db_alias):
            raise RuntimeError(
                f"GridFSProxy.{name}() cannot run on async connection '{self.db_alias}': "
                f"use await {'Model.field' if twin == 'async_writer' else 'doc.field'}.{twin}()"
            )
        return original(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


def _require_async(proxy: Any, twin: str) -> None:
    if not connection.is_async_connection(proxy.db_alias):
        raise RuntimeError(
            f"GridFSProxy.{twin}() needs an async connection, but alias '{proxy.db_alias}' "
            "is a synchronous connection (not async): register it with `await connect_async(...)`"
        )


def proxy_async_methods() -> dict[str, Callable[..., Any]]:
    """The ``async_`` methods added to ``GridFSProxy`` (the instance-level twins)."""

    def bridged(name: str, twin: str) -> Callable[..., Any]:
        async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            _require_async(self, twin)
            return unwrap(await greenlet_spawn(getattr(self, name), *args, **kwargs))

        method.__name__ = twin
        method.__doc__ = f"Async twin of ``GridFSProxy.{name}()``."
        return method

    async def async_iter_chunks(self: Any) -> AsyncIterator[bytes]:
        """The file's content, one chunk at a time (nothing if there is no file)."""
        _require_async(self, "async_iter_chunks")
        if self.grid_id is None:
            return
        db = connection.get_async_db(self.db_alias)
        async for chunk in iter_chunks(db, self.collection_name, self.grid_id):
            yield chunk

    put = bridged("put", "async_put")

    async def async_put(self: Any, data: Any, **kwargs: Any) -> Any:
        from mongoengine.fields import ImageGridFsProxy

        if isinstance(data, (bytes, bytearray)) and isinstance(self, ImageGridFsProxy):
            data = io.BytesIO(data)  # images are opened by Pillow, which wants a file
        if self.grid_id is not None or kwargs.get("_id") is not None:
            await put(self, data, **kwargs)  # not a file id of our own to clean
            return self.grid_id
        _require_async(self, "async_put")
        file_id = kwargs["_id"] = ObjectId()
        try:
            await put(self, data, **kwargs)
        except BaseException:
            # PyMongo's GridIn leaves its chunks behind when a write fails
            db = connection.get_async_db(self.db_alias)
            await discard_file(db, self.collection_name, file_id)
            raise
        return self.grid_id  # the sync put() returns nothing; the async fork returns the id

    async_put.__doc__ = put.__doc__

    return {
        "async_put": async_put,
        "async_get": bridged("get", "async_get"),
        "async_read": bridged("read", "async_read"),
        "async_delete": bridged("delete", "async_delete"),
        "async_replace": bridged("replace", "async_replace"),
        "async_iter_chunks": async_iter_chunks,
    }


class AsyncGridFSProxy:
    """One GridFS file, used with ``await``: the async MongoEngine fork's file handle.

    ``await Model.file.async_put(data, instance=doc)`` and ``async_get(doc)`` return one
    over the document's own ``GridFSProxy``, so what it changes (``async_put``,
    ``async_replace``, ``async_delete``) is the document's field, marked changed for the
    next save.  Made by hand (``AsyncGridFSProxy(grid_id=..., db_alias=...,
    collection_name=...)``) it stands for a file of its own.

    The file's metadata (``filename``, ``content_type``, ``length``, ``chunk_size``,
    ``upload_date``, ``md5``, ``metadata`` and any other field of its files document)
    are attributes, read without I/O once loaded: by ``async_put``, ``async_replace``,
    ``async_get`` or ``async_read``.  Before that, reading one raises ``AttributeError``
    saying so.
    """

    __slots__ = ("_gridout", "_proxy")
    __hash__ = None  # type: ignore[assignment]  # mutable, like GridFSProxy

    def __init__(
        self,
        grid_id: Any = None,
        key: str | None = None,
        instance: Any = None,
        db_alias: str = DEFAULT_CONNECTION_NAME,
        collection_name: str = "fs",
    ) -> None:
        from mongoengine.fields import GridFSProxy

        self._proxy = GridFSProxy(
            grid_id=grid_id,
            key=key,
            instance=instance,
            db_alias=db_alias,
            collection_name=collection_name,
        )
        self._gridout: Any = None

    @classmethod
    def of(cls, proxy: Any) -> AsyncGridFSProxy:
        """The async handle of an existing ``GridFSProxy`` (a document's ``doc.file``)."""
        handle = cls.__new__(cls)
        handle._proxy = proxy
        handle._gridout = None
        return handle

    @property
    def grid_id(self) -> Any:
        """The file's id (None when there is no file)."""
        return self._proxy.grid_id

    @property
    def key(self) -> str | None:
        """The name of the field holding the file."""
        return self._proxy.key  # type: ignore[no-any-return]

    @property
    def instance(self) -> Any:
        """The document holding the file, if any."""
        return self._proxy.instance

    @property
    def db_alias(self) -> str:
        """The async alias whose database stores the file."""
        return self._proxy.db_alias  # type: ignore[no-any-return]

    @property
    def collection_name(self) -> str:
        """The GridFS bucket (``<collection_name>.files`` / ``.chunks``)."""
        return self._proxy.collection_name  # type: ignore[no-any-return]

    @property
    def gridfs_proxy(self) -> Any:
        """The MongoEngine ``GridFSProxy`` this handle works on."""
        return self._proxy

    async def async_get(self) -> Any:
        """The stored file (PyMongo's ``AsyncGridOut``: its metadata), or None when there
        is no file; loads the metadata attributes."""
        gridout = await self._proxy.async_get()
        self._gridout = gridout
        return gridout

    async def async_put(self, data: Any, **kwargs: Any) -> Any:
        """Store ``data`` (bytes or a file object) as the file and return its id.

        ``filename``, ``content_type`` and any other keyword go into the files document
        (``metadata={...}`` too).  ``GridFSError`` if there already is a file
        (``async_replace`` replaces it); a failed put leaves no chunks behind.
        """
        await self._proxy.async_put(data, **kwargs)
        await self._load()
        return self.grid_id

    async def async_replace(self, data: Any, **kwargs: Any) -> Any:
        """Delete the file (if any), store ``data`` instead; return the new id."""
        await self._proxy.async_replace(data, **kwargs)
        await self._load()
        return self.grid_id

    async def async_read(self, size: int = -1) -> bytes | None:
        """The file's content from its start: all of it, or at most ``size`` bytes.

        None when there is no file (or its files document is gone).
        """
        _require_async(self._proxy, "async_read")
        if self.grid_id is None:
            return None
        try:
            gridout = await async_fs(self.db_alias, self.collection_name).get(self.grid_id)
        except NoFile:
            return None
        self._gridout = gridout
        return await gridout.read(size)

    async def async_delete(self) -> None:
        """Delete the file (its thumbnail too, for images); ``grid_id`` becomes None."""
        await self._proxy.async_delete()
        self._gridout = None

    def async_iter_chunks(self) -> AsyncIterator[bytes]:
        """The file's content, one chunk at a time (nothing if there is no file)."""
        return self._proxy.async_iter_chunks()  # type: ignore[no-any-return]

    async def _load(self) -> None:
        _require_async(self._proxy, "async_get")
        try:
            self._gridout = await async_fs(self.db_alias, self.collection_name).get(self.grid_id)
        except NoFile:
            self._gridout = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        gridout = self._gridout
        if gridout is None:
            raise AttributeError(
                f"AsyncGridFSProxy.{name}: the file's metadata is not loaded and attribute "
                "access does no I/O: use `await proxy.async_get()` first"
            )
        if callable(getattr(type(gridout), name, None)):  # GridOut's methods are not metadata
            raise AttributeError(name)
        return getattr(gridout, name)

    def __eq__(self, other: object) -> bool:
        from mongoengine.fields import GridFSProxy

        if isinstance(other, AsyncGridFSProxy):
            other = other._proxy
        if not isinstance(other, GridFSProxy):
            return NotImplemented
        return bool(self._proxy == other)

    def __bool__(self) -> bool:
        return bool(self.grid_id)

    def __repr__(self) -> str:
        return f"<AsyncGridFSProxy: {self.grid_id}>"


def _document_and_args(
    twin: str, args: tuple[Any, ...], instance: Any
) -> tuple[Any, tuple[Any, ...]]:
    """The document a field-level call is about: ``instance=doc``, or positional."""
    if instance is None and args and twin in ("async_read", "async_get", "async_delete"):
        instance, args = args[0], args[1:]
    if instance is None and len(args) >= 2 and twin in ("async_put", "async_replace"):
        instance, args = args[1], (args[0], *args[2:])
    if instance is None:
        raise TypeError(f"{twin}() needs the document: pass instance=doc")
    return instance, args


def field_async_methods() -> dict[str, Callable[..., Any]]:
    """The ``async_`` methods added to ``FileField`` (the spec's class-level API)."""

    def handle(field: Any, instance: Any) -> AsyncGridFSProxy:
        return AsyncGridFSProxy.of(getattr(instance, field.name))

    async def async_put(self: Any, *args: Any, instance: Any = None, **kwargs: Any) -> Any:
        """``await Model.file.async_put(data, instance=doc, filename=..., **fields)``:
        store the file in ``doc``'s field; returns its :class:`AsyncGridFSProxy`."""
        instance, args = _document_and_args("async_put", args, instance)
        file = handle(self, instance)
        await file.async_put(*args, **kwargs)
        return file

    async def async_replace(self: Any, *args: Any, instance: Any = None, **kwargs: Any) -> Any:
        """``await Model.file.async_replace(data, instance=doc, ...)``: the file replaced;
        returns its :class:`AsyncGridFSProxy`."""
        instance, args = _document_and_args("async_replace", args, instance)
        file = handle(self, instance)
        await file.async_replace(*args, **kwargs)
        return file

    async def async_get(self: Any, *args: Any, instance: Any = None) -> Any:
        """``await Model.file.async_get(doc)``: the :class:`AsyncGridFSProxy` of ``doc``'s
        file with its metadata loaded, or None when it has no file."""
        instance, _ = _document_and_args("async_get", args, instance)
        file = handle(self, instance)
        if file.grid_id is None or await file.async_get() is None:
            return None
        return file

    async def async_read(self: Any, *args: Any, instance: Any = None, size: int = -1) -> Any:
        """``await Model.file.async_read(doc, size=-1)``: the content from its start."""
        instance, args = _document_and_args("async_read", args, instance)
        return await handle(self, instance).async_read(*args[:1] or (size,))

    async def async_delete(self: Any, *args: Any, instance: Any = None) -> None:
        """``await Model.file.async_delete(doc)``: the file deleted, the field emptied."""
        instance, _ = _document_and_args("async_delete", args, instance)
        await handle(self, instance).async_delete()

    @asynccontextmanager
    async def async_writer(self: Any, instance: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Stream a new file into ``instance``'s field: ``await w.write(part)``.

        The file is complete when the block exits; on an exception its chunks are
        removed and the field is left as it was.
        """
        proxy = getattr(instance, self.name)
        _require_async(proxy, "async_writer")
        if proxy.grid_id is not None:
            from mongoengine.fields import GridFSError

            raise GridFSError(
                "This document already has a file. Either delete it or call replace"
            )
        db = connection.get_async_db(proxy.db_alias)
        writer = StreamingWriter(db, proxy.collection_name, **kwargs)
        try:
            yield writer
        except BaseException:
            await writer.abort()
            raise
        await writer.close()
        proxy.grid_id = writer._id
        compat.mark_as_changed(proxy)

    return {
        "async_put": async_put,
        "async_get": async_get,
        "async_read": async_read,
        "async_delete": async_delete,
        "async_replace": async_replace,
        "async_writer": async_writer,
    }
