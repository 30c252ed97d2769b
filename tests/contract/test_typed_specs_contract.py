"""Typed comparisons: a spec value its field's declared type cannot compare with is
refused with ``InvalidSpec`` before any query, on every adapter (issue 16, point 2)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Product
from domain.library import Author, Book
from domain.sales import SalesOrder
from persistence.aggregation import Aggregation, Count
from persistence.errors import InvalidSpec
from persistence.ids import new_id
from persistence.specs import Changes, F, Order, Page, asc

UowFactory = Callable[[], Any]

PLACED = datetime.datetime(2021, 3, 4, 5, 6, 7)


@pytest.fixture
async def stored(uow_factory: UowFactory) -> dict[str, str]:
    author = Author(name="Ann")
    async with uow_factory() as uow:
        await uow.repository("products").add(Product(name="saw", price=9.5, stock=50))
        await uow.repository("orders").add(SalesOrder(customer="c1", placed_at=PLACED))
        await uow.repository("authors").add(author)
        await uow.repository("books").add(Book(title="Tides", author_id=author.id))
        await uow.commit()
    return {"author": author.id}


@pytest.mark.parametrize(
    ("name", "spec", "field", "expected"),
    [
        ("orders", F("placed_at") > "2020-01-01", "placed_at", "datetimes"),
        ("products", F("stock") >= "50", "stock", "numbers"),
        ("products", F("price").in_([9.5, "9.5"]), "price", "numbers"),
        ("products", F("name") == 3, "name", "strings"),
        ("products", F("tags").contains_item(1), "tags", "strings"),
        ("products", F("stock").matches("5"), "stock", "numbers"),
        ("products", F("stock") == True, "stock", "numbers"),  # noqa: E712
        ("books", F("author_id") == "Ann", "author_id", "ids"),
        ("books", ~(F("title") == "x") & (F("author_id") == 7), "author_id", "ids"),
    ],
)
async def test_a_value_of_the_wrong_type_is_refused_before_any_query(
    uow_factory: UowFactory,
    stored: dict[str, str],
    name: str,
    spec: Any,
    field: str,
    expected: str,
) -> None:
    async with uow_factory() as uow:
        repository = uow.repository(name)
        for call in (
            lambda: repository.find(spec),
            lambda: repository.count(spec),
            lambda: repository.first(spec, order=Order.by(asc("id"))),
            lambda: repository.distinct("id", spec),
            lambda: repository.project(["id"], spec, page=Page(limit=5)),
            lambda: repository.aggregate(Aggregation(values={"n": Count()}, where=spec)),
            lambda: repository.update_where(spec, Changes().inc("version", 1)),
            lambda: repository.remove_where(spec),
        ):
            with pytest.raises(InvalidSpec, match=field) as refused:
                await call()
            assert refused.value.field == field
            assert expected in refused.value.expected
        await uow.commit()
    async with uow_factory() as uow:  # nothing was changed or removed
        assert await uow.repository(name).count() == 1


async def test_values_of_the_declared_type_still_match(
    uow_factory: UowFactory, stored: dict[str, str]
) -> None:
    async with uow_factory() as uow:
        assert (
            len(await uow.repository("orders").find(F("placed_at") > datetime.datetime(2020, 1, 1)))
            == 1
        )
        assert await uow.repository("products").count(F("stock") >= 50) == 1
        assert await uow.repository("products").count(F("price").in_([9.5, 10])) == 1
        assert await uow.repository("products").count(F("name") == None) == 0  # noqa: E711
        assert await uow.repository("books").count(F("author_id") == stored["author"]) == 1
        assert await uow.repository("books").count(F("author_id") == new_id()) == 0
