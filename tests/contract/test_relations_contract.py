"""Delete rules and bulk related loading, identical on every backend.

The rules are the ones :data:`persistence.relations.RELATIONS` declares: books CASCADE with
their author, reviews CASCADE with their book and their parent review, a book's editor
is NULLIFIED, shelves PULL a removed book, and a contract DENIES removing its author.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.library import Author, Book, Contract, Review, Shelf
from persistence.errors import DeleteDenied, NotFound
from persistence.relations import Loaded
from persistence.specs import ALL

UowFactory = Callable[[], Any]


async def _store(uow_factory: UowFactory, **entities: list[Any]) -> None:
    async with uow_factory() as uow:
        for repository, items in entities.items():
            for item in items:
                await uow.repository(repository).add(item)
        await uow.commit()


async def _all(uow_factory: UowFactory, repository: str) -> list[Any]:
    async with uow_factory() as uow:
        found = await uow.repository(repository).find()
    return sorted(found, key=lambda e: e.id)


async def _library(uow_factory: UowFactory) -> dict[str, Any]:
    """Two authors; Ann wrote two books (one edited by Bob), Bob one (edited by Ann)."""
    ann, bob = Author(name="Ann"), Author(name="Bob")
    a1 = Book(title="A1", author_id=ann.id, editor_id=bob.id)
    a2 = Book(title="A2", author_id=ann.id)
    b1 = Book(title="B1", author_id=bob.id, editor_id=ann.id)
    r1 = Review(book_id=a1.id, text="great")
    r2 = Review(book_id=a1.id, text="agreed", parent_id=r1.id)
    r3 = Review(book_id=b1.id, text="fine")
    shelf = Shelf(name="to read", book_ids=[a1.id, b1.id, a2.id])
    await _store(
        uow_factory,
        authors=[ann, bob],
        books=[a1, a2, b1],
        reviews=[r1, r2, r3],
        shelves=[shelf],
    )
    return {"ann": ann, "bob": bob, "a1": a1, "a2": a2, "b1": b1, "r3": r3, "shelf": shelf}


async def test_removing_an_author_applies_every_rule(uow_factory: UowFactory) -> None:
    lib = await _library(uow_factory)
    async with uow_factory() as uow:
        await uow.authors.remove(lib["ann"].id)
        await uow.commit()

    assert [a.name for a in await _all(uow_factory, "authors")] == ["Bob"]
    books = await _all(uow_factory, "books")
    assert [(b.title, b.editor_id) for b in books] == [("B1", None)]  # cascaded, nullified
    assert [r.id for r in await _all(uow_factory, "reviews")] == [lib["r3"].id]
    [shelf] = await _all(uow_factory, "shelves")
    assert shelf.book_ids == [lib["b1"].id]  # the cascaded books were pulled


async def test_deny_refuses_and_removes_nothing(uow_factory: UowFactory) -> None:
    lib = await _library(uow_factory)
    contract = Contract(author_id=lib["ann"].id, title="Next novel")
    await _store(uow_factory, contracts=[contract])
    async with uow_factory() as uow:
        with pytest.raises(DeleteDenied, match=r"contracts|Contract"):
            await uow.authors.remove(lib["ann"].id)
        # the refusal came before any write: the unit goes on and can commit
        await uow.authors.add(Author(name="Cy"))
        await uow.commit()
    assert [a.name for a in await _all(uow_factory, "authors")] == ["Ann", "Bob", "Cy"]
    assert len(await _all(uow_factory, "books")) == 3
    assert len(await _all(uow_factory, "reviews")) == 3
    [shelf] = await _all(uow_factory, "shelves")
    assert len(shelf.book_ids) == 3

    async with uow_factory() as uow:  # without the contract the removal goes through
        await uow.contracts.remove(contract.id)
        await uow.authors.remove(lib["ann"].id)
        await uow.commit()
    assert [a.name for a in await _all(uow_factory, "authors")] == ["Bob", "Cy"]


async def test_deny_applies_to_remove_where(uow_factory: UowFactory) -> None:
    lib = await _library(uow_factory)
    await _store(uow_factory, contracts=[Contract(author_id=lib["bob"].id, title="T")])
    async with uow_factory() as uow:
        with pytest.raises(DeleteDenied):
            await uow.authors.remove_where(ALL)
    assert len(await _all(uow_factory, "authors")) == 2
    assert len(await _all(uow_factory, "books")) == 3


async def test_remove_where_cascades_for_every_match(uow_factory: UowFactory) -> None:
    await _library(uow_factory)
    async with uow_factory() as uow:
        assert await uow.authors.remove_where(ALL) == 2
        await uow.commit()
    for repository in ("authors", "books", "reviews"):
        assert await _all(uow_factory, repository) == []
    [shelf] = await _all(uow_factory, "shelves")
    assert shelf.book_ids == []


async def test_a_cascade_rolls_back_with_its_unit_of_work(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    lib = await _library(uow_factory)
    before = {r: await _all(uow_factory, r) for r in ("authors", "books", "reviews", "shelves")}
    async with uow_factory() as uow:
        await uow.authors.remove(lib["ann"].id)
        assert await uow.books.count() == 1  # the block sees its own cascade
        await uow.rollback()
        assert await uow.books.count() == 3
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.authors.remove(lib["bob"].id)
            raise RuntimeError("the service failed after the removal")
    after = {r: await _all(uow_factory, r) for r in before}
    assert after == before


async def test_a_cycle_of_cascades_terminates(uow_factory: UowFactory) -> None:
    author = Author(name="Ann")
    book = Book(title="B", author_id=author.id)
    first = Review(book_id=book.id, text="first")
    second = Review(book_id=book.id, text="second", parent_id=first.id)
    await _store(uow_factory, authors=[author], books=[book], reviews=[first, second])
    async with uow_factory() as uow:  # close the cycle: first replies to second
        first.parent_id = second.id
        await uow.reviews.save(first)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.reviews.remove(first.id)
        await uow.commit()
    assert await _all(uow_factory, "reviews") == []
    assert [b.id for b in await _all(uow_factory, "books")] == [book.id]


async def test_remove_missing_raises_not_found(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.authors.remove("0" * 24)


async def test_find_related_loads_each_related_repository_once(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = await _library(uow_factory)
    ghost = "f" * 24  # an editor that does not exist: a dangling reference
    await _store(uow_factory, books=[Book(title="C1", author_id=lib["bob"].id, editor_id=ghost)])
    async with uow_factory() as uow:
        calls: list[str] = []
        original = type(uow.authors).get_many

        async def counting(self: Any, ids: Any) -> Any:
            calls.append(self.name)
            return await original(self, ids)

        monkeypatch.setattr(type(uow.authors), "get_many", counting)
        loaded = await uow.books.find_related(with_related=("author", "editor"))
        shelves = await uow.shelves.find_related(with_related=["books"])
    assert calls == ["authors", "books"]  # author and editor share one lookup
    by_title = {item.entity.title: item.related for item in loaded}
    assert all(isinstance(item, Loaded) for item in loaded)
    assert by_title["A1"]["author"].name == "Ann"
    assert by_title["A1"]["editor"].name == "Bob"
    assert by_title["A2"]["editor"] is None
    assert by_title["C1"]["editor"] is None  # dangling: None, not an error
    assert [b.title for b in shelves[0].related["books"]] == ["A1", "B1", "A2"]


async def test_find_related_refuses_an_unknown_relation(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError, match="publisher"):
            await uow.books.find_related(with_related=("publisher",))


async def test_specs_compare_reference_fields_by_id(uow_factory: UowFactory) -> None:
    from persistence.specs import F

    lib = await _library(uow_factory)
    async with uow_factory() as uow:
        by_ann = await uow.books.find(F("author_id") == lib["ann"].id)
        on_shelf = await uow.shelves.count(F("book_ids").contains_item(lib["a2"].id))
        editors = await uow.books.distinct("editor_id")
        rows = await uow.books.project(["author_id"], F("title") == "B1")
    assert sorted(b.title for b in by_ann) == ["A1", "A2"]
    assert on_shelf == 1
    assert sorted(editors) == sorted([lib["ann"].id, lib["bob"].id])
    assert rows == [{"id": lib["b1"].id, "author_id": lib["bob"].id}]
