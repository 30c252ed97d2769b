"""The GridFS file store under failure: every failure is a domain error, a chunk whose
reply was lost in a quick restart is recognised, and a failure loses no stored file.

``StoreUnavailable`` (with ``retry_safe``) for an outage, ``Conflict`` for a chunk that
clashes with other content, ``FileStoreError`` for a refusal; never a driver error.
The restarts use a server of the test's own on its own storage; a proxy in front of it
loses the reply to a chosen insert and restarts the server before the client notices
(the retried insert then meets the restarted server, which has forgotten the first
attempt: see docs/server-gaps.md).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import pymongo
import pytest
from bson import Binary
from pymongo.errors import PyMongoError

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.library import Author, Book
from domain.services import attach_file, remove_attachment
from eventually import until_back
from persistence.engine import connect_async, disconnect_async, get_async_db
from persistence.errors import Conflict, FileStoreError, NotFound, StoreUnavailable
from persistence.mongo import MongoUnitOfWork
from persistence.mongo.files import GridFSFileStore
from persistence.testing import EmbeddedServer, ReplyDroppingProxy, async_fail_point

ALIAS = "files_faults"
DB = "files_faults_db"
CHUNK = 255 * 1024
DATA = bytes(range(256)) * 3000  # 768,000 bytes: three GridFS chunks
CUT = {"closeConnection": True}  # the connection drops before the command runs


async def _parts(data: bytes = DATA, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _payload(shape: str) -> bytes | AsyncIterator[bytes]:
    return DATA if shape == "bytes" else _parts()


async def _counts(alias: str = ALIAS) -> tuple[int, int]:
    db = get_async_db(alias)
    return (
        await db["fs.files"].count_documents({}),
        await db["fs.chunks"].count_documents({}),
    )


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    """A server of the test's own, on storage kept across its restarts."""
    with tempfile.TemporaryDirectory(prefix="files-faults-") as storage:
        started = EmbeddedServer(storage_path=storage).start()
        try:
            yield started
        finally:
            started.stop()


def _insert_into(collection: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda command: command.get("insert") == collection


# --- a quick restart ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["bytes", "stream"])
@pytest.mark.parametrize("collection", ["fs.chunks", "fs.files"])
async def test_a_put_whose_reply_is_lost_in_a_quick_restart_completes(
    server: EmbeddedServer, shape: str, collection: str
) -> None:
    """The insert landed, its reply was lost, the server restarted: the driver's retry
    meets a duplicate key on the restarted server.  The put sees its own chunk (or its
    own files document) stored and completes; the file reads back whole."""
    proxy = ReplyDroppingProxy(
        server.port, drop=_insert_into(collection), then=lambda: asyncio.to_thread(server.restart)
    )
    async with proxy:
        await connect_async(DB, alias=ALIAS, host=proxy.uri)
        try:
            store = GridFSFileStore(ALIAS)
            file_id = await store.put(_payload(shape), filename="restart.bin")
            assert [c["insert"] for c in proxy.dropped] == [collection]  # it really happened
            assert await store.read(file_id) == DATA
            assert await store.ids() == [file_id]
            assert await _counts() == (1, 3)
            assert (await store.info(file_id)).length == len(DATA)
        finally:
            await disconnect_async(ALIAS)


async def test_a_retried_chunk_that_finds_other_content_is_a_conflict(
    server: EmbeddedServer,
) -> None:
    """Same file id and chunk number but other data under it: a real clash, not a
    retry.  The put fails with ``Conflict`` and removes what it wrote."""

    def restart_and_overwrite() -> None:
        server.restart()
        with pymongo.MongoClient(server.uri) as client:
            client[DB]["fs.chunks"].update_many({}, {"$set": {"data": Binary(b"other")}})

    proxy = ReplyDroppingProxy(
        server.port,
        drop=_insert_into("fs.chunks"),
        then=lambda: asyncio.to_thread(restart_and_overwrite),
    )
    async with proxy:
        await connect_async(DB, alias=ALIAS, host=proxy.uri)
        try:
            store = GridFSFileStore(ALIAS)
            with pytest.raises(Conflict) as raised:
                await store.put(DATA, filename="clash.bin")
            assert raised.value.entity == "File"
            assert proxy.dropped
            assert await _counts() == (0, 0)
        finally:
            await disconnect_async(ALIAS)


async def test_a_restart_between_chunks_of_a_streamed_put_is_survived(
    server: EmbeddedServer,
) -> None:
    """Restarted while the caller produces the next part: the next chunk insert meets a
    dead pooled connection and the driver's retry lands it on the restarted server."""
    await connect_async(DB, alias=ALIAS, host=server.uri)
    try:

        async def restarting() -> AsyncIterator[bytes]:
            yield DATA[: 2 * CHUNK]
            await asyncio.to_thread(server.restart)
            yield DATA[2 * CHUNK :]

        store = GridFSFileStore(ALIAS)
        file_id = await store.put(restarting(), filename="restart.bin")
        assert await store.read(file_id) == DATA
        assert await _counts() == (1, 3)
    finally:
        await disconnect_async(ALIAS)


# --- a long outage -------------------------------------------------------------------------


async def test_every_method_is_store_unavailable_while_the_server_is_down(
    server: EmbeddedServer,
) -> None:
    """Put (bytes and streamed), read, stream, info, delete, replace, ids and the sweep
    all raise ``StoreUnavailable`` (reads and the failed writes retry-safe: nothing was
    applied); afterwards every stored file is still there, none was added."""
    await connect_async(DB, alias=ALIAS, host=server.uri, serverSelectionTimeoutMS=1000)
    try:
        store = GridFSFileStore(ALIAS)
        kept = await store.put(DATA, filename="kept.bin")
        server.stop(keep_storage=True)

        attempts: dict[str, Callable[[], Any]] = {
            "put bytes": lambda: store.put(b"new", filename="new.bin"),
            "put stream": lambda: store.put(_parts(), filename="new.bin"),
            "read": lambda: store.read(kept),
            "stream": lambda: _drain(store.stream(kept)),
            "info": lambda: store.info(kept),
            "delete": lambda: store.delete(kept),
            "replace": lambda: store.replace(kept, b"new"),
            "ids": lambda: store.ids(),
            "sweep_orphans": lambda: store.sweep_orphans(grace=0),
        }
        for name, attempt in attempts.items():
            with pytest.raises(StoreUnavailable) as raised:
                await attempt()
            assert raised.value.retry_safe, name
            assert "127.0.0.1" not in str(raised.value)  # no driver text

        server.start()
        back = await until_back(store.ids, StoreUnavailable, "the store after the restart")
        assert back == [kept]
        assert await store.read(kept) == DATA
    finally:
        await disconnect_async(ALIAS)


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_an_outage_in_the_middle_of_a_stream_is_store_unavailable(
    server: EmbeddedServer,
) -> None:
    await connect_async(DB, alias=ALIAS, host=server.uri, serverSelectionTimeoutMS=1000)
    try:
        store = GridFSFileStore(ALIAS)
        big = bytes(range(256)) * (CHUNK // 256) * 10  # ten chunks: more than one batch
        file_id = await store.put(big, filename="big.bin")
        received = []
        with pytest.raises(StoreUnavailable) as raised:
            async for chunk in store.stream(file_id):
                received.append(chunk)
                if len(received) == 1:
                    server.stop(keep_storage=True)
        assert raised.value.retry_safe
        assert 1 <= len(received) < 10
        server.start()
        assert await until_back(lambda: store.read(file_id), StoreUnavailable, "a read") == big
    finally:
        await disconnect_async(ALIAS)


async def test_an_outage_in_the_middle_of_a_streamed_put_leaves_chunks_for_the_sweep(
    server: EmbeddedServer,
) -> None:
    """The server stops after two chunks: ``StoreUnavailable`` (retry-safe: there is no
    file, only chunks its cleanup could not reach), which the sweep removes later."""
    await connect_async(DB, alias=ALIAS, host=server.uri, serverSelectionTimeoutMS=1000)
    try:
        store = GridFSFileStore(ALIAS)

        async def cut() -> AsyncIterator[bytes]:
            yield DATA[: 2 * CHUNK + 1]  # two full chunks are sent
            server.stop(keep_storage=True)
            yield DATA[2 * CHUNK + 1 :]

        with pytest.raises(StoreUnavailable) as raised:
            await store.put(cut(), filename="cut.bin")
        assert raised.value.retry_safe
        server.start()
        assert await until_back(_counts, PyMongoError, "a count after the restart") == (0, 2)
        assert len(await store.sweep_orphans(grace=0)) == 1
        assert await _counts() == (0, 0)
    finally:
        await disconnect_async(ALIAS)


# --- dropped connections and refusals (fail points on the session's server) ------------


@pytest.mark.parametrize("shape", ["bytes", "stream"])
async def test_a_put_whose_inserts_keep_failing_is_store_unavailable_and_leaves_nothing(
    client: Any, shape: str
) -> None:
    """The chunk insert's connection drops, and so does the driver's retry: the put
    removes what it wrote and raises ``StoreUnavailable(retry_safe=True)``."""
    store = GridFSFileStore()
    async with async_fail_point(
        client, mode={"times": 2}, data={"failCommands": ["insert"], **CUT}
    ):
        with pytest.raises(StoreUnavailable) as raised:
            await store.put(_payload(shape), filename="cut.bin")
    assert raised.value.retry_safe
    assert await _counts("default") == (0, 0)
    file_id = await store.put(_payload(shape), filename="after.bin")  # the store works on
    assert await store.read(file_id) == DATA


async def test_a_put_the_server_refuses_is_a_file_store_error(client: Any) -> None:
    store = GridFSFileStore()
    refused = {"failCommands": ["insert"], "errorCode": 2}  # BadValue: not retried
    async with async_fail_point(client, mode={"skip": 1, "times": 1}, data=refused):
        with pytest.raises(FileStoreError) as raised:
            await store.put(DATA, filename="refused.bin")
    assert "code 2" in str(raised.value)
    assert await _counts("default") == (0, 0)


async def test_a_replace_whose_put_fails_keeps_the_old_file(client: Any) -> None:
    store = GridFSFileStore()
    old = await store.put(DATA, filename="old.bin", content_type="text/plain")
    async with async_fail_point(
        client, mode={"times": 2}, data={"failCommands": ["insert"], **CUT}
    ):
        with pytest.raises(StoreUnavailable):
            await store.replace(old, b"new content")
    assert await store.read(old) == DATA  # not deleted before the new content was stored
    assert await store.ids() == [old]


async def test_a_replace_whose_old_file_cannot_be_deleted_keeps_the_old_file(
    client: Any,
) -> None:
    """The new content is stored, the old file's deletion fails: the new file is
    removed again and the old one stays current (``StoreUnavailable``, retry-safe)."""
    store = GridFSFileStore()
    old = await store.put(DATA, filename="old.bin")
    async with async_fail_point(
        client, mode={"times": 2}, data={"failCommands": ["delete"], **CUT}
    ):
        with pytest.raises(StoreUnavailable) as raised:
            await store.replace(old, b"new content")
    assert raised.value.retry_safe
    assert await store.ids() == [old]
    assert await store.read(old) == DATA
    assert await _counts("default") == (1, 3)


async def test_a_missing_chunk_is_a_file_store_error_not_short_content(client: Any) -> None:
    store = GridFSFileStore()
    file_id = await store.put(DATA, filename="damaged.bin")
    await get_async_db()["fs.chunks"].delete_one({"n": 2})  # the last chunk
    with pytest.raises(FileStoreError):
        await store.read(file_id)
    with pytest.raises(FileStoreError):
        await _drain(store.stream(file_id))
    with pytest.raises(NotFound):
        await store.read("0" * 24)


# --- the unit of work's compensation under an outage -----------------------------------


async def _book_with_file(client: Any) -> tuple[str, str]:
    author = Author(name="Ann")
    book = Book(title="Guide", author_id=author.id)
    async with MongoUnitOfWork(registry) as uow:
        await uow.authors.add(author)
        await uow.books.add(book)
        await uow.commit()
    attachment = await attach_file(MongoUnitOfWork(registry), book.id, DATA, "a.bin", None)
    return book.id, attachment.file_id


async def test_a_deletion_after_the_commit_that_cannot_reach_the_store_keeps_the_commit(
    client: Any,
) -> None:
    """The block committed; deleting its file afterwards fails: the commit stands and
    is reported as such (an error there would invite running the block again), and the
    file stays."""
    book_id, file_id = await _book_with_file(client)
    async with async_fail_point(client, data={"failCommands": ["delete"], **CUT}):
        await remove_attachment(MongoUnitOfWork(registry), book_id, file_id)
    async with MongoUnitOfWork(registry) as uow:
        assert (await uow.books.get(book_id)).attachments == []  # committed
        assert await uow.files.read(file_id) == DATA  # left for an audit of ids()


async def test_a_rolled_back_put_that_cannot_be_removed_keeps_the_blocks_own_error(
    client: Any,
) -> None:
    async with async_fail_point(client, data={"failCommands": ["delete"], **CUT}):
        with pytest.raises(LookupError, match="the block's own"):
            async with MongoUnitOfWork(registry) as uow:
                await uow.files.put(DATA, filename="a.bin")
                raise LookupError("the block's own error")
    assert await _counts("default") == (1, 3)  # the file it could not remove
