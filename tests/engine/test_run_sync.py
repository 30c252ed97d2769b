"""``run_sync``: unported sync MongoEngine code on async aliases, with sync semantics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mongoengine import (
    Document,
    GenericReferenceField,
    IntField,
    LazyReferenceField,
    ListField,
    ReferenceField,
    StringField,
)
from mongoengine.connection import get_connection, get_db
from mongoengine.context_managers import no_dereference, switch_collection
from mongoengine.errors import DoesNotExist
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

import persistence.engine  # noqa: F401
from persistence.engine import run_sync
from persistence.engine.references import AsyncReferenceProxy


class RsAuthor(Document):
    name = StringField()


class RsBook(Document):
    title = StringField()
    pages = IntField(default=0)
    author = ReferenceField(RsAuthor)
    co_authors = ListField(ReferenceField(RsAuthor))
    editor = LazyReferenceField(RsAuthor)
    anything = GenericReferenceField()


async def _library() -> tuple[RsAuthor, RsAuthor]:
    ada = await RsAuthor(name="ada").async_save()
    bob = await RsAuthor(name="bob").async_save()
    await RsBook(
        title="engines", pages=3, author=ada, co_authors=[bob, ada], editor=bob, anything=ada
    ).async_save()
    return ada, bob


def test_run_sync_is_exported_from_mongoengine() -> None:
    import mongoengine

    assert mongoengine.run_sync is run_sync
    assert "run_sync" in mongoengine.__all__


async def test_references_dereference_on_attribute_access(async_db: Any) -> None:
    await _library()

    def read() -> tuple[str, list[str], str]:
        book = RsBook.objects.get(title="engines")
        return book.author.name, [a.name for a in book.co_authors], book.anything.name

    assert await run_sync(read) == ("ada", ["bob", "ada"], "ada")


async def test_lazy_reference_fetch_loads(async_db: Any) -> None:
    await _library()
    assert await run_sync(lambda: RsBook.objects.first().editor.fetch().name) == "bob"


async def test_list_len_repr_and_indexing_of_a_queryset(async_db: Any) -> None:
    await _library()

    def read() -> tuple[Any, ...]:
        books = list(RsBook.objects)
        return (
            len(RsBook.objects),
            [b.title for b in books],
            repr(RsBook.objects),
            RsBook.objects[0],
        )

    count, titles, text, first = await run_sync(read)
    assert (count, titles) == (1, ["engines"])
    assert text == "[<RsBook: RsBook object>]"
    assert first.title == "engines"


async def test_sync_writes_and_context_managers(async_db: Any) -> None:
    ada, _ = await _library()

    def write() -> None:
        RsBook(title="draft", author=ada).save()
        RsBook.objects(title="engines").update(inc__pages=2)
        with switch_collection(RsBook, "rs_archive") as Archived:
            Archived(title="old").save()
        with no_dereference(RsBook):
            assert not isinstance(RsBook.objects.get(title="draft").author, RsAuthor)

    await run_sync(write)
    assert await RsBook.objects(title="engines").async_first() is not None
    assert (await RsBook.objects.async_get(title="engines")).pages == 5
    assert await RsBook.objects(title="draft").async_count() == 1
    assert [d["title"] async for d in async_db["rs_archive"].find()] == ["old"]


async def test_results_and_errors_are_the_sync_ones(async_db: Any) -> None:
    await _library()
    with pytest.raises(DoesNotExist):
        await run_sync(lambda: RsBook.objects.get(title="missing"))
    with pytest.raises(ZeroDivisionError):
        await run_sync(lambda: 1 / 0)
    with pytest.raises(TypeError, match="needs a callable"):
        await run_sync("RsBook.objects.first")  # type: ignore[arg-type]
    assert await run_sync(lambda a, b=0: a + b, 1, b=2) == 3


async def test_no_facade_leaks_out(async_db: Any) -> None:
    assert isinstance(await run_sync(get_db), AsyncDatabase)
    assert isinstance(await run_sync(get_connection), AsyncMongoClient)
    assert isinstance(await run_sync(lambda: get_db()["rs_book"]), AsyncCollection)


async def test_outside_run_sync_nothing_changes(async_db: Any) -> None:
    await _library()

    def load() -> RsBook:
        book = RsBook.objects.first()
        assert book.author.name == "ada"
        return book

    loaded = await run_sync(load)
    assert loaded.author.name == "ada"  # dereferenced inside: stays a document
    book = await RsBook.objects.async_first()
    assert isinstance(book.author, AsyncReferenceProxy)  # loaded outside: a proxy
    with pytest.raises(RuntimeError, match="async_first"):
        RsBook.objects.first()
    with pytest.raises(RuntimeError, match="async_fetch"):
        book.editor.fetch()
    assert "not evaluated" in repr(RsBook.objects)


async def test_the_event_loop_keeps_running(async_db: Any) -> None:
    await _library()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    titles = await run_sync(lambda: [RsBook.objects.first().author.name for _ in range(5)])
    during = ticks - before
    done.set()
    await task
    assert titles == ["ada"] * 5
    assert during > 0  # other tasks ran while the sync code waited for I/O


async def test_on_mongomock(mongomock_db: Any) -> None:
    await _library()
    names = await run_sync(lambda: [b.author.name for b in RsBook.objects])
    assert names == ["ada"]


async def test_sync_semantics_stay_in_the_task_that_runs_them(async_db: Any) -> None:
    await _library()
    outside = await RsBook.objects.async_first()
    seen: list[type] = []
    started = asyncio.Event()

    async def other_task() -> None:
        await started.wait()  # wakes while run_sync waits for its query
        seen.append(type(outside.author))

    def sync_code() -> list[str]:
        started.set()
        return [book.author.name for book in RsBook.objects]

    task = asyncio.create_task(other_task())
    names = await run_sync(sync_code)
    await task
    assert names == ["ada"]
    assert seen == [AsyncReferenceProxy]  # the other task kept async semantics
