"""``raw_queryset`` / ``async_raw_rows`` (one clone) against the chained queryset calls
they stand for, on the server and on mongomock."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import Document, IntField, StringField, queryset_manager

from persistence.engine import async_run_in_transaction
from persistence.engine.raw_finds import async_raw_rows, raw_queryset
from persistence.engine.task_switches import switched


class Animal(Document):
    name = StringField()
    legs = IntField(db_field="n_legs")
    meta = {"collection": "raw_find_animals", "allow_inheritance": True}


class Bird(Animal):
    pass


class Pet(Document):
    name = StringField()
    legs = IntField(db_field="n_legs")
    meta = {"collection": "raw_find_pets"}

    @queryset_manager
    def objects(cls, queryset: Any) -> Any:
        return queryset.filter(legs__gte=2)


def _chained(
    cls: Any, query: dict[str, Any], order_by: tuple[str, ...], skip: int, limit: int
) -> Any:
    queryset = cls.objects(__raw__=query).order_by(*order_by)
    if skip:
        queryset = queryset.skip(skip)
    if limit:
        queryset = queryset.limit(limit)
    return queryset.as_pymongo()


SHAPES = [
    ({}, (), 0, 0),
    ({"name": {"$ne": "x"}}, ("-legs", "id"), 0, 0),
    ({"n_legs": {"$gte": 2}}, ("name",), 1, 2),
    ({}, ("legs",), 0, 1),
]


@pytest.fixture
async def animals(any_async_db: Any) -> None:
    for i, name in enumerate(["ant", "bee", "cat", "dog"]):
        await Animal(name=name, legs=i * 2).async_save()
    await Bird(name="owl", legs=2).async_save()
    await Bird(name="emu", legs=2).async_save()
    for i, name in enumerate(["rex", "tom", "fish"]):
        await Pet(name=name, legs=4 - 2 * i).async_save()


@pytest.mark.parametrize("query, order_by, skip, limit", SHAPES)
@pytest.mark.parametrize("cls", [Animal, Bird, Pet])
async def test_one_clone_builds_what_the_chained_calls_build(
    animals: None, cls: Any, query: dict[str, Any], order_by: tuple[str, ...], skip: int, limit: int
) -> None:
    built = raw_queryset(cls, query, order_by=order_by, skip=skip, limit=limit)
    chained = _chained(cls, query, order_by, skip, limit)
    for attribute in ("_query", "_ordering", "_skip", "_limit", "_empty", "_as_pymongo"):
        assert getattr(built, attribute) == getattr(chained, attribute), attribute
    rows = await async_raw_rows(cls, query, order_by=order_by, skip=skip, limit=limit)
    assert rows == await chained.async_to_list()
    assert rows, "every shape selects something here"


async def test_rows_follow_a_switched_collection(animals: None) -> None:
    with switched(Animal, collection="raw_find_animals_other"):
        await Animal(name="elk", legs=4).async_save()
        rows = await async_raw_rows(Animal, {})
    assert [row["name"] for row in rows] == ["elk"]
    assert len(await async_raw_rows(Animal, {})) == 6


async def test_rows_are_read_in_the_tasks_transaction(async_db: Any) -> None:
    async with async_run_in_transaction():
        await Animal(name="yak", legs=4).async_save()
        inside = await async_raw_rows(Animal, {"name": "yak"})
        assert [row["n_legs"] for row in inside] == [4]
        assert await Animal.objects(name="yak").async_count() == 1
    assert [row["name"] for row in await async_raw_rows(Animal, {})] == ["yak"]
