"""The file store behind the unit of work, identical on every backend.

The store is not transactional, so the unit of work compensates: a file put in a block
that rolls back is deleted, a file deleted in a block goes only once the block commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from domain.library import Author, Book
from domain.services import attach_file, remove_attachment
from persistence.errors import ConcurrencyConflict, NotFound, UnitOfWorkError

UowFactory = Callable[[], Any]


@pytest.fixture(autouse=True)
def _files_supported(requires: Callable[[str], None]) -> None:
    requires("files")


async def _stored(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(await uow.files.ids())


async def test_round_trip_info_stream_replace_delete(uow_factory: UowFactory) -> None:
    data = bytes(range(256)) * 2000  # 512,000 bytes: several GridFS chunks
    async with uow_factory() as uow:
        assert uow.files.transactional is False
        file_id = await uow.files.put(
            data, filename="a.bin", content_type="application/x-test", metadata={"k": 1}
        )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.files.read(file_id) == data
        chunks = [chunk async for chunk in uow.files.stream(file_id)]
        info = await uow.files.info(file_id)
    assert len(chunks) > 1 and b"".join(chunks) == data
    assert (info.id, info.filename, info.length) == (file_id, "a.bin", len(data))
    assert info.content_type == "application/x-test"
    assert dict(info.metadata) == {"k": 1}
    assert info.upload_date is not None

    async with uow_factory() as uow:
        new_id = await uow.files.replace(file_id, b"v2", filename="b.bin")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.files.read(new_id) == b"v2"
        replaced = await uow.files.info(new_id)
        with pytest.raises(NotFound):
            await uow.files.read(file_id)
    assert (replaced.filename, replaced.content_type) == ("b.bin", "application/x-test")
    assert await _stored(uow_factory) == [new_id]

    async with uow_factory() as uow:
        await uow.files.delete(new_id)
        await uow.commit()
    assert await _stored(uow_factory) == []


async def test_streamed_put(uow_factory: UowFactory) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * 100_000

    async with uow_factory() as uow:
        file_id = await uow.files.put(parts(), filename="streamed.bin")
        await uow.commit()
    async with uow_factory() as uow:
        data = await uow.files.read(file_id)
    assert data == b"".join(bytes([i]) * 100_000 for i in range(5))


async def test_missing_files_raise_not_found(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        for call in (uow.files.read, uow.files.info, uow.files.delete):
            with pytest.raises(NotFound):
                await call("0" * 24)
        with pytest.raises(NotFound):
            await uow.files.replace("0" * 24, b"x")
        with pytest.raises(NotFound):
            [chunk async for chunk in uow.files.stream("0" * 24)]


async def test_a_file_put_in_a_rolled_back_block_is_deleted(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        kept = await uow.files.put(b"kept", filename="kept.txt")
        await uow.commit()
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.files.put(b"lost", filename="lost.txt")
            raise RuntimeError("the service failed")
    async with uow_factory() as uow:
        await uow.files.put(b"not committed", filename="dropped.txt")  # no commit: rolled back
    async with uow_factory() as uow:
        await uow.files.put(b"undone", filename="undone.txt")
        await uow.rollback()
        await uow.files.put(b"second", filename="second.txt")
        await uow.commit()
    async with uow_factory() as uow:
        names = sorted([(await uow.files.info(i)).filename for i in await uow.files.ids()])
    assert names == ["kept.txt", "second.txt"]
    assert kept in await _stored(uow_factory)


async def test_a_file_deleted_in_a_block_goes_only_at_commit(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        file_id = await uow.files.put(b"data", filename="f.txt")
        await uow.commit()
    async with uow_factory() as uow:
        await uow.files.delete(file_id)
        with pytest.raises(NotFound):  # gone for the block at once
            await uow.files.read(file_id)
        assert file_id not in await uow.files.ids()
        assert await uow.files.store.read(file_id) == b"data"  # still in the store
    assert await _stored(uow_factory) == [file_id]  # the block rolled back: kept
    async with uow_factory() as uow:
        await uow.files.delete(file_id)
        assert await uow.files.store.read(file_id) == b"data"
        await uow.commit()
        with pytest.raises(NotFound):
            await uow.files.store.read(file_id)
    assert await _stored(uow_factory) == []


async def test_an_entity_owning_attachments(uow_factory: UowFactory) -> None:
    author = Author(name="Ann")
    book = Book(title="Manual", author_id=author.id)
    async with uow_factory() as uow:
        await uow.authors.add(author)
        await uow.books.add(book)
        await uow.commit()

    first = await attach_file(uow_factory(), book.id, b"%PDF-1", "draft.pdf", "application/pdf")
    second = await attach_file(uow_factory(), book.id, b"cover", "cover.png", "image/png")
    async with uow_factory() as uow:
        stored = await uow.books.get(book.id)
        contents = [await uow.files.read(a.file_id) for a in stored.attachments]
    assert [(a.filename, a.length) for a in stored.attachments] == [
        ("draft.pdf", 6),
        ("cover.png", 5),
    ]
    assert contents == [b"%PDF-1", b"cover"]
    assert await _stored(uow_factory) == sorted([first.file_id, second.file_id])

    await remove_attachment(uow_factory(), book.id, first.file_id)
    async with uow_factory() as uow:
        stored = await uow.books.get(book.id)
    assert [a.filename for a in stored.attachments] == ["cover.png"]
    assert await _stored(uow_factory) == [second.file_id]


async def test_a_failed_attach_leaves_no_file(uow_factory: UowFactory) -> None:
    author = Author(name="Ann")
    book = Book(title="Manual", author_id=author.id)
    async with uow_factory() as uow:
        await uow.authors.add(author)
        await uow.books.add(book)
        await uow.commit()
    async with uow_factory() as uow:  # someone changes the book meanwhile
        stale = await uow.books.get(book.id)
        stale.title = "Handbook"
        await uow.books.save(stale)
        await uow.commit()

    stale_version = 0
    with pytest.raises((ConcurrencyConflict, UnitOfWorkError)):
        await attach_file(
            uow_factory(), book.id, b"late", "late.txt", None, expected_version=stale_version
        )
    assert await _stored(uow_factory) == []
    async with uow_factory() as uow:
        assert (await uow.books.get(book.id)).attachments == []
