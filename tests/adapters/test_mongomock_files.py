"""mongomock has no GridFS: the mongo unit of work's file store says so, with a domain
error naming the limitation and the way out, on every method and before any write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import mongomock
import pytest

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.library import Author, Book
from domain.services import attach_file
from persistence.engine import connect_async, disconnect_async
from persistence.errors import FilesUnsupported
from persistence.memory.files import InMemoryFileStore
from persistence.mongo import MongoUnitOfWork

FILE_ID = "0" * 24


async def _parts() -> AsyncIterator[bytes]:
    yield b"streamed"


@pytest.fixture
async def mock_alias() -> AsyncIterator[str]:
    await connect_async("mock_files", alias="mock", mongo_client_class=mongomock.MongoClient)
    try:
        yield "mock"
    finally:
        await disconnect_async("mock")


async def test_every_file_method_on_mongomock_is_files_unsupported(mock_alias: str) -> None:
    calls: dict[str, Callable[[Any], Any]] = {
        "put bytes": lambda files: files.put(b"data", filename="a.bin"),
        "put stream": lambda files: files.put(_parts(), filename="a.bin"),
        "read": lambda files: files.read(FILE_ID),
        "stream": lambda files: files.stream(FILE_ID).__anext__(),
        "info": lambda files: files.info(FILE_ID),
        "delete": lambda files: files.delete(FILE_ID),
        "replace": lambda files: files.replace(FILE_ID, b"new"),
        "ids": lambda files: files.ids(),
        "sweep_orphans": lambda files: files.sweep_orphans(grace=0),
    }
    async with MongoUnitOfWork(registry, alias=mock_alias, transactions=False) as uow:
        for name, call in calls.items():
            with pytest.raises(FilesUnsupported) as raised:
                await call(uow.files)
            message = str(raised.value)
            assert "mongomock" in message and "GridFS" in message, name
            assert "InMemoryFileStore" in message, name  # what to do instead


async def test_a_service_storing_a_file_on_mongomock_fails_before_any_write(
    mock_alias: str,
) -> None:
    author = Author(name="Ann")
    book = Book(title="Guide", author_id=author.id)
    async with MongoUnitOfWork(registry, alias=mock_alias, transactions=False) as uow:
        await uow.authors.add(author)
        await uow.books.add(book)
    with pytest.raises(FilesUnsupported):
        await attach_file(
            MongoUnitOfWork(registry, alias=mock_alias, transactions=False),
            book.id,
            b"draft",
            "draft.txt",
            None,
        )
    async with MongoUnitOfWork(registry, alias=mock_alias, transactions=False) as uow:
        assert (await uow.books.get(book.id)).attachments == []


async def test_the_advised_memory_file_store_works_beside_mongomock(mock_alias: str) -> None:
    files = InMemoryFileStore()

    def uow() -> MongoUnitOfWork:
        return MongoUnitOfWork(registry, alias=mock_alias, transactions=False, files=files)

    author = Author(name="Ann")
    book = Book(title="Guide", author_id=author.id)
    async with uow() as unit:
        await unit.authors.add(author)
        await unit.books.add(book)
    attachment = await attach_file(uow(), book.id, b"draft", "draft.txt", "text/plain")
    async with uow() as unit:
        stored = await unit.books.get(book.id)
        assert [a.file_id for a in stored.attachments] == [attachment.file_id]
        assert await unit.files.read(attachment.file_id) == b"draft"
