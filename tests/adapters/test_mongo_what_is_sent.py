"""What the mongo adapter sends: conjunctions as one flat filter (a server answers a
range on one field from that field's index), the same matches as ``$and``; one
transaction per unit, begun when the unit first needs it."""

from __future__ import annotations

import pytest

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.library import Author, Book
from persistence.mongo import MongoUnitOfWork
from persistence.specs import Changes, F
from wire import Commands


def _filters(commands: Commands, name: str) -> list[object]:
    found = []
    for command, body in commands.started_commands:
        if command == name:
            found.append(body["filter"] if name == "find" else body["updates"][0]["q"])
    return found


async def test_a_range_on_one_field_is_one_condition(commands: Commands) -> None:
    author = Author(name="A")
    books = [Book(title=f"B{i}", author_id=author.id, version=i) for i in range(10)]
    async with MongoUnitOfWork(registry) as uow:
        await uow.authors.add(author)
        await uow.books.add_many(books)
        await uow.commit()

    commands.clear()
    async with MongoUnitOfWork(registry) as uow:
        in_range = (F("version") >= 3) & (F("version") < 6)
        found = await uow.books.find(in_range)
        first = await uow.books.first(F("title") == "B4")
        changed = await uow.books.update_where(in_range, Changes().set("title", "C"))
        await uow.commit()
    assert _filters(commands, "find") == [
        {"version": {"$gte": 3, "$lt": 6}},
        {"title": "B4"},
    ]
    assert _filters(commands, "update") == [{"version": {"$gte": 3, "$lt": 6}}]
    assert sorted(b.title for b in found) == ["B3", "B4", "B5"]
    assert first is not None and first.title == "B4"
    assert changed == 3
    async with MongoUnitOfWork(registry).reading() as uow:
        titles = sorted(b.title for b in await uow.books.find())
    assert titles == ["B0", "B1", "B2", "B6", "B7", "B8", "B9", "C", "C", "C"]


async def test_a_unit_after_a_commit_begins_with_its_first_operation(
    commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that commits and ends opens one transaction, not a second one only to
    abort it; work after a commit runs in a new transaction of its own."""
    from persistence.mongo import unit_of_work

    opened: list[object] = []
    original = unit_of_work.async_run_in_transaction

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(unit_of_work, "async_run_in_transaction", counted)
    first, second, third = (Author(name=n) for n in ("A", "B", "C"))
    async with MongoUnitOfWork(registry) as uow:
        await uow.authors.add(first)
        await uow.commit()
    assert len(opened) == 1

    commands.clear()
    async with MongoUnitOfWork(registry) as uow:
        await uow.authors.add(second)
        await uow.commit()
        await uow.authors.add(third)
        await uow.rollback()
    assert len(opened) == 3
    inserts = [body for name, body in commands.started_commands if name == "insert"]
    transactions = {(str(body["lsid"]), body["txnNumber"]) for body in inserts}
    assert len(transactions) == 2  # two authors (one with its record), two transactions
    assert [(name, body.get("insert")) for name, body in commands.started_commands] == [
        ("insert", "authors"),
        ("insert", "persistence_commits"),  # the commit record, in the transaction
        ("commitTransaction", None),
        ("insert", "authors"),
        ("abortTransaction", None),
    ]
    async with MongoUnitOfWork(registry).reading() as uow:
        names = sorted(a.name for a in await uow.authors.find())
    assert names == ["A", "B"]
