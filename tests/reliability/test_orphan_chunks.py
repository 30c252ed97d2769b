"""GridFS leaves no orphan chunks: a put that fails at the server, a chunk insert that
is retried after it landed, and a server killed mid-upload (the sweep's case)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mongoengine import Document, FileField, connect_async, disconnect_async
from pymongo.errors import DuplicateKeyError, OperationFailure

import persistence.engine  # noqa: F401
from persistence.engine.connection import get_async_db
from persistence.engine.files import StreamingWriter
from persistence.errors import FileStoreError, StoreUnavailable
from persistence.mongo.files import GridFSFileStore
from persistence.testing import EmbeddedServer, async_fail_point

PART = b"q" * (300 * 1024)
FAIL = {"errorCode": 2}  # BadValue: not retried by the driver


async def _counts(db: Any, bucket: str = "fs") -> tuple[int, int]:
    return (
        await db[f"{bucket}.files"].count_documents({}),
        await db[f"{bucket}.chunks"].count_documents({}),
    )


async def _parts(n: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield PART


async def test_a_streamed_put_failing_at_its_third_chunk_removes_the_first_two(
    client: Any,
) -> None:
    store = GridFSFileStore()
    db = get_async_db()
    async with async_fail_point(
        client, mode={"skip": 2, "times": 1}, data={"failCommands": ["insert"], **FAIL}
    ):
        with pytest.raises(FileStoreError):
            await store.put(_parts(5), filename="five.bin")
    assert await _counts(db) == (0, 0)


async def test_a_bytes_put_whose_files_document_fails_removes_its_chunks(client: Any) -> None:
    """The chunks are written first, then the files document; when the second insert
    fails the put removes the chunks."""
    store = GridFSFileStore()
    db = get_async_db()
    chunks = -(-len(PART * 3) // (255 * 1024))
    async with async_fail_point(
        client, mode={"skip": chunks, "times": 1}, data={"failCommands": ["insert"], **FAIL}
    ):
        with pytest.raises(FileStoreError):
            await store.put(PART * 3, filename="three.bin")
    assert await _counts(db) == (0, 0)
    file_id = await store.put(PART, filename="after.bin")  # the store works on
    assert await store.read(file_id) == PART


class Attachment(Document):
    blob = FileField()


async def test_a_failed_file_field_put_removes_its_chunks(client: Any) -> None:
    doc = Attachment()
    async with async_fail_point(
        client, mode={"skip": 1, "times": 1}, data={"failCommands": ["insert"], **FAIL}
    ):
        with pytest.raises(OperationFailure):
            await doc.blob.async_put(PART * 2, filename="x.bin")
    assert doc.blob.grid_id is None
    assert await _counts(get_async_db()) == (0, 0)


async def test_a_chunk_insert_retried_after_it_landed_completes_the_file(client: Any) -> None:
    """A retried chunk insert that finds its own chunk stored (the first attempt landed,
    its reply was lost) goes on; a different chunk under the id is an error."""
    db = get_async_db()
    writer = StreamingWriter(db, "fs", filename="dup.bin", chunk_size=1024)
    data = bytes(range(256)) * 12  # 3 chunks of 1024
    await db["fs.chunks"].insert_one({"files_id": writer._id, "n": 1, "data": data[1024:2048]})
    await writer.write(data)
    await writer.close()
    assert await GridFSFileStore().read(str(writer._id)) == data
    assert await _counts(db) == (1, 3)

    other = StreamingWriter(db, "fs", filename="clash.bin", chunk_size=1024)
    await db["fs.chunks"].insert_one({"files_id": other._id, "n": 0, "data": b"not ours"})
    with pytest.raises(DuplicateKeyError):
        await other.write(data)
    assert await other.abort()
    assert await _counts(db) == (1, 3)


async def test_chunks_left_by_a_killed_server_are_swept_after_the_restart() -> None:
    with tempfile.TemporaryDirectory(prefix="orphans-") as storage:
        server = EmbeddedServer(storage_path=storage).start()
        alias = "orphans"
        try:
            await connect_async(
                "orphans_db",
                alias=alias,
                host=server.uri,
                serverSelectionTimeoutMS=1000,
                uuidRepresentation="standard",
            )
            store = GridFSFileStore(alias)
            kept = await store.put(b"complete", filename="kept.bin")
            written = asyncio.Event()

            async def upload() -> AsyncIterator[bytes]:
                for n in range(1000):
                    yield PART
                    if n == 3:
                        written.set()  # parts 0-2 are stored
                    await asyncio.sleep(0.005)

            put = asyncio.create_task(store.put(upload(), filename="big.bin"))
            await written.wait()
            server.kill()
            with pytest.raises(StoreUnavailable):
                await put  # its cleanup could not reach the server either
            await disconnect_async(alias)

            server.start()  # same storage and port
            await connect_async(
                "orphans_db",
                alias=alias,
                host=server.uri,
                serverSelectionTimeoutMS=5000,
                uuidRepresentation="standard",
            )
            db = get_async_db(alias)
            files, chunks = await _counts(db)
            assert files == 1 and chunks > 1  # the cut upload's chunks are still there
            assert await store.sweep_orphans() == []  # younger than the default grace
            swept = await store.sweep_orphans(grace=0)
            assert len(swept) == 1 and swept[0] != kept
            assert await _counts(db) == (1, 1)  # only the complete file is left
            assert await store.read(kept) == b"complete"
            assert await store.ids() == [kept]
        finally:
            await disconnect_async(alias)
            server.stop()
