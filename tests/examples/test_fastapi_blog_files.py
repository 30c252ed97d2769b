"""The blog's file endpoints when the database fails under them: an upload through a
quick restart completes, an upload cut off by an outage answers 503 (never a 500) and
attaches nothing, a download during an outage answers 503 (never a 404 for a file that
exists).  (An upload while the server is down fails at its first read, before any
file is stored: the unit of work's outage handling, tested with it.)"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pymongo
import pytest

from adapters.http.app import create_app
from adapters.registry import registry
from eventually import HANG_S
from persistence.engine import get_async_connection
from persistence.mongo import MongoUnitOfWork
from persistence.testing import EmbeddedServer, ReplyDroppingProxy, fail_point

DATA = bytes(range(256)) * 3000  # 768,000 bytes: three GridFS chunks
OCTETS = {"content-type": "application/octet-stream"}


@asynccontextmanager
async def _blog(uri: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a fresh database of ``uri``, its lifespan (``connect_async``) running."""
    db = f"blog_{uuid.uuid4().hex[:10]}"
    app = create_app(uri=uri, db=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            yield client
        try:
            await get_async_connection().drop_database(db)
        except pymongo.errors.PyMongoError:
            pass  # a server stopped by the test


async def _book(http: httpx.AsyncClient) -> str:
    author = await http.post("/authors", json={"name": "Ann"})
    book = await http.post("/books", json={"author_id": author.json()["id"], "title": "Guide"})
    assert book.status_code == 201, book.text
    return book.json()["id"]  # type: ignore[no-any-return]


async def _upload(http: httpx.AsyncClient, book_id: str) -> httpx.Response:
    return await http.put(f"/books/{book_id}/attachments/a.bin", content=DATA, headers=OCTETS)


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    with tempfile.TemporaryDirectory(prefix="blog-files-") as storage:
        started = EmbeddedServer(storage_path=storage).start()
        try:
            yield started
        finally:
            started.stop()


async def test_an_upload_whose_chunk_reply_is_lost_in_a_quick_restart_is_created(
    server: EmbeddedServer,
) -> None:
    proxy = ReplyDroppingProxy(
        server.port,
        drop=lambda command: command.get("insert") == "fs.chunks",
        then=lambda: asyncio.to_thread(server.restart),
    )
    async with proxy, _blog(proxy.uri) as http:
        book_id = await _book(http)
        created = await _upload(http, book_id)
        assert created.status_code == 201, created.text
        assert proxy.dropped  # the restart happened during the upload
        download = await http.get(f"/files/{created.json()['file_id']}")
        assert download.status_code == 200
        assert download.content == DATA


async def test_an_upload_cut_off_by_an_outage_answers_503_and_attaches_nothing(
    mongodb_uri: str, sync_client: pymongo.MongoClient[Any]
) -> None:
    async with _blog(mongodb_uri) as http:
        book_id = await _book(http)
        cut = {"failCommands": ["insert"], "closeConnection": True}
        with fail_point(sync_client, data=cut):  # every insert's connection drops
            failed = await _upload(http, book_id)
        assert failed.status_code == 503, failed.text
        assert failed.json()["error"] == "StoreUnavailable"
        async with MongoUnitOfWork(registry).reading() as uow:  # the app's database
            assert (await uow.books.get(book_id)).attachments == []
            assert await uow.files.ids() == []
        created = await _upload(http, book_id)  # the store works on
        assert created.status_code == 201


async def test_a_download_answers_503_while_the_database_is_down(
    server: EmbeddedServer,
) -> None:
    async with _blog(f"{server.uri}&serverSelectionTimeoutMS=1000") as http:
        book_id = await _book(http)
        created = await _upload(http, book_id)
        assert created.status_code == 201
        file_id = created.json()["file_id"]
        server.stop(keep_storage=True)
        download = await http.get(f"/files/{file_id}")
        assert download.status_code == 503, download.text  # not 404: the file exists
        assert download.json()["error"] == "StoreUnavailable"
        server.start()
        give_up = time.monotonic() + HANG_S  # a hang guard, not a speed requirement
        while (download := await http.get(f"/files/{file_id}")).status_code == 503:
            assert time.monotonic() < give_up, "the app did not recover"
        assert download.status_code == 200
        assert download.content == DATA


async def test_an_upload_the_database_refuses_answers_503_not_400(
    mongodb_uri: str, sync_client: pymongo.MongoClient[Any]
) -> None:
    async with _blog(mongodb_uri) as http:
        book_id = await _book(http)
        refused = {"failCommands": ["insert"], "errorCode": 2}  # BadValue, not retried
        with fail_point(sync_client, mode={"times": 1}, data=refused):
            failed = await _upload(http, book_id)
        assert failed.status_code == 503, failed.text
        assert failed.json()["error"] == "FileStoreError"
