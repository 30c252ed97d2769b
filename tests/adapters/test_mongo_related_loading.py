"""The mongo adapter loads related aggregates in bulk: counted on the wire."""

from __future__ import annotations

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.library import Author, Book, Shelf
from persistence.mongo import MongoUnitOfWork
from wire import Commands


async def test_one_query_per_related_collection(commands: Commands) -> None:
    authors = [Author(name=f"A{i}") for i in range(20)]
    books = [
        Book(title=f"B{i}", author_id=authors[i % 20].id, editor_id=authors[(i + 1) % 20].id)
        for i in range(200)
    ]
    shelves = [Shelf(name=f"S{i}", book_ids=[b.id for b in books[i::10]]) for i in range(10)]
    async with MongoUnitOfWork(registry) as uow:
        await uow.authors.add_many(authors)
        await uow.books.add_many(books)
        await uow.shelves.add_many(shelves)
        await uow.commit()

    commands.clear()
    async with MongoUnitOfWork(registry) as uow:
        loaded = await uow.books.find_related(with_related=("author", "editor"))
        assert commands.find_collections == ["books", "authors"]  # 200 books, 400 references
        commands.clear()
        on_shelves = await uow.shelves.find_related(with_related=("books",))
        assert commands.find_collections == ["shelves", "books"]
    assert len(loaded) == 200
    for item in loaded:
        assert item.related["author"].id == item.entity.author_id
        assert item.related["editor"].id == item.entity.editor_id
    assert sum(len(s.related["books"]) for s in on_shelves) == 200
    assert all(
        [b.id for b in s.related["books"]] == s.entity.book_ids for s in on_shelves
    )
