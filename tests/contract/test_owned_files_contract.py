"""Files owned by an aggregate go with it (issue 16, point 5): a ``FileIdField`` value is
deleted from the file store when its aggregate is removed, by ``remove``,
``remove_where`` or a CASCADE rule, after the commit, and never when the unit rolls back
or the removal is refused."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from domain.library import Attachment, Author, Book, Contract
from persistence.errors import DeleteDenied, NotFound
from persistence.specs import F

UowFactory = Callable[[], Any]


@pytest.fixture(autouse=True)
def _files_supported(requires: Callable[[str], None]) -> None:
    requires("files")


async def _stored(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(await uow.files.ids())


async def _library(uow_factory: UowFactory) -> dict[str, Any]:
    """Two authors; Ann's two books own two files and one file; Bob's book one; a file
    nobody owns."""
    ann, bob = Author(name="Ann"), Author(name="Bob")
    async with uow_factory() as uow:
        files = {
            name: await uow.files.put(name.encode(), filename=f"{name}.pdf")
            for name in ("tides-1", "tides-2", "reefs", "bob", "loose")
        }

        def book(title: str, author: Author, *names: str) -> Book:
            attachments = [Attachment(file_id=files[n], filename=f"{n}.pdf") for n in names]
            return Book(title=title, author_id=author.id, attachments=attachments)

        await uow.authors.add_many([ann, bob])
        books = [
            book("Tides", ann, "tides-1", "tides-2"),
            book("Reefs", ann, "reefs"),
            book("Bob's", bob, "bob"),
        ]
        await uow.books.add_many(books)
        await uow.commit()
    return {"ann": ann, "bob": bob, "files": files, "books": books}


async def test_removing_an_aggregate_deletes_its_files_after_the_commit(
    uow_factory: UowFactory,
) -> None:
    library = await _library(uow_factory)
    files, tides = library["files"], library["books"][0]
    async with uow_factory() as uow:
        await uow.books.remove(tides.id)
        with pytest.raises(NotFound):  # gone for the block at once...
            await uow.files.read(files["tides-1"])
        # ...but kept in the store until the commit (seen from a task of its own)
        outside = asyncio.create_task(_stored(uow_factory), context=contextvars.Context())
        assert await outside == sorted(files.values())
        await uow.commit()
    assert await _stored(uow_factory) == sorted(files[n] for n in ("reefs", "bob", "loose"))


async def test_a_cascade_deletes_the_files_of_what_it_removes(uow_factory: UowFactory) -> None:
    library = await _library(uow_factory)
    files = library["files"]
    async with uow_factory() as uow:
        await uow.authors.remove(library["ann"].id)  # CASCADE: both of Ann's books go
        await uow.commit()
    assert await _stored(uow_factory) == sorted([files["bob"], files["loose"]])
    async with uow_factory() as uow:
        assert [b.title for b in await uow.books.find()] == ["Bob's"]
        assert await uow.files.read(files["bob"]) == b"bob"


async def test_remove_where_deletes_the_files_of_every_match(uow_factory: UowFactory) -> None:
    library = await _library(uow_factory)
    files = library["files"]
    async with uow_factory() as uow:
        assert await uow.authors.remove_where(F("name").in_(["Ann", "Bob"])) == 2
        await uow.commit()
    assert await _stored(uow_factory) == [files["loose"]]


async def test_files_stay_when_the_unit_rolls_back(uow_factory: UowFactory) -> None:
    library = await _library(uow_factory)
    everything = sorted(library["files"].values())
    async with uow_factory() as uow:
        await uow.authors.remove(library["ann"].id)
        await uow.rollback()
        await uow.books.remove(library["books"][2].id)
        # the block ends without commit()
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.books.remove_where(F("title") == "Reefs")
            raise RuntimeError("the service failed after the removal")
    assert await _stored(uow_factory) == everything
    async with uow_factory() as uow:
        assert await uow.books.count() == 3
        assert await uow.files.read(library["files"]["reefs"]) == b"reefs"


async def test_files_stay_when_a_rule_refuses_the_removal(uow_factory: UowFactory) -> None:
    library = await _library(uow_factory)
    ann = library["ann"]
    async with uow_factory() as uow:
        await uow.contracts.add(Contract(author_id=ann.id, title="Deal"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DeleteDenied):
            await uow.authors.remove(ann.id)
    assert await _stored(uow_factory) == sorted(library["files"].values())
