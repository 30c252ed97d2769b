"""Aggregation specs give the same rows on every backend, with MongoDB's semantics.

Where mongomock or the embedded server departs from MongoDB, the test asserts MongoDB's
answer and is ``xfail(strict=True)`` on that backend only (see docs/server-gaps.md and
docs/specs.md).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Product
from domain.library import Book
from domain.sales import LineItem, SalesOrder
from markers import backend_gap
from persistence.aggregation import (
    AddToSet,
    Aggregation,
    Avg,
    Count,
    Field,
    First,
    Last,
    Max,
    Min,
    Push,
    Sum,
    Unwind,
)
from persistence.errors import UnknownField, UnsupportedSpec
from persistence.ids import new_id
from persistence.specs import F, Order, asc, desc

UowFactory = Callable[[], Any]

SKUS = [f"S{i:02d}" for i in range(16)]
WEIGHTS = [i * i for i in range(1, 17)]  # a few SKUs sell rarely


def _orders(seed: int = 16, size: int = 160) -> list[SalesOrder]:
    rng = random.Random(seed)
    orders = []
    for i in range(size):
        items = [
            LineItem(
                sku=sku,
                quantity=rng.randint(1, 4),
                unit_price_cents=rng.choice([99, 250, 1000, 1999]),
            )
            for sku in dict.fromkeys(rng.choices(SKUS, weights=WEIGHTS, k=rng.randint(0, 5)))
        ]
        status = rng.choice(["open", "paid", "paid", "cancelled"])
        orders.append(SalesOrder(customer=f"c{i % 7}", status=status, items=items))
    return orders


@pytest.fixture
async def orders(uow_factory: UowFactory) -> list[SalesOrder]:
    data = _orders()
    async with uow_factory() as uow:
        await uow.repository("orders").add_many(data)
        await uow.commit()
    return data


async def _aggregate(uow_factory: UowFactory, name: str, spec: Aggregation) -> list[Any]:
    async with uow_factory() as uow:
        return await uow.repository(name).aggregate(spec)  # type: ignore[no-any-return]


REVENUE_PER_SKU = Aggregation(
    where=F("status") == "paid",
    unwind="items",
    by={"sku": "items.sku"},
    values={
        "revenue": Sum(Field("items.quantity") * Field("items.unit_price_cents")),
        "times_sold": Count(),
    },
    having=F("times_sold") > 5,
    order=Order.by(desc("revenue")),
    limit=10,
)


async def test_revenue_per_sku_top_10_sold_more_than_5_times(
    uow_factory: UowFactory, orders: list[SalesOrder]
) -> None:
    rows = await _aggregate(uow_factory, "orders", REVENUE_PER_SKU)

    revenue: dict[str, int] = defaultdict(int)
    sold: dict[str, int] = defaultdict(int)
    for order in orders:
        if order.status == "paid":
            for item in order.items:
                revenue[item.sku] += item.quantity * item.unit_price_cents
                sold[item.sku] += 1
    expected = sorted(
        ({"sku": s, "revenue": revenue[s], "times_sold": sold[s]} for s in sold if sold[s] > 5),
        key=lambda row: (-row["revenue"], row["sku"]),
    )[:10]
    assert len([s for s in sold if sold[s] > 5]) > 10  # the limit cuts something
    assert rows == expected
    assert all(type(row["revenue"]) is int for row in rows)


async def test_values_follow_mongodb_semantics(uow_factory: UowFactory) -> None:
    products = [
        Product(name="a", category="tools", price=2.5, stock=3, tags=["x"]),
        Product(name="b", category="tools", price=None, stock=4, tags=["y", "x"]),
        Product(name="c", category="tools", price=1.0, stock=0),
        Product(name="d", category="craft", price=None, stock=7, tags=["y"]),
        Product(name="e", category=None, price=4.0, stock=1),
    ]
    async with uow_factory() as uow:
        await uow.products.add_many(products)
        await uow.commit()
    by_name = Order.by("name")
    with pytest.raises(UnsupportedSpec, match="share one order"):
        Aggregation(values={"a": First("name", by=by_name), "b": Last("name", by="stock")})
    spec = Aggregation(
        by=["category"],
        values={
            "n": Count(),
            "stock": Sum("stock"),
            "price_total": Sum("price"),
            "mean_price": Avg("price"),
            "mean_stock": Avg("stock"),
            "cheapest": Min("price"),
            "dearest": Max("price"),
            "first_name": First("name", by=by_name),
            "last_name": Last("name", by=by_name),
            "prices": Push("price", by=by_name),
            "price_set": AddToSet("price"),
        },
        order=Order.by(desc("n")),
    )
    rows = await _aggregate(uow_factory, "products", spec)
    for row in rows:
        row["price_set"] = sorted(row["price_set"])
    assert rows == [
        {"category": "tools", "n": 3, "stock": 7, "price_total": 3.5, "mean_price": 1.75,
         "mean_stock": 7 / 3, "cheapest": 1.0, "dearest": 2.5, "first_name": "a",
         "last_name": "c", "prices": [2.5, 1.0], "price_set": [1.0, 2.5]},
        {"category": None, "n": 1, "stock": 1, "price_total": 4.0, "mean_price": 4.0,
         "mean_stock": 1.0, "cheapest": 4.0, "dearest": 4.0, "first_name": "e",
         "last_name": "e", "prices": [4.0], "price_set": [4.0]},
        {"category": "craft", "n": 1, "stock": 7, "price_total": 0, "mean_price": None,
         "mean_stock": 7.0, "cheapest": None, "dearest": None, "first_name": "d",
         "last_name": "d", "prices": [], "price_set": []},
    ]  # fmt: skip
    assert type(rows[0]["stock"]) is int and type(rows[2]["price_total"]) is int
    assert type(rows[1]["mean_stock"]) is float


async def test_last_of_a_missing_value_is_null(
    uow_factory: UowFactory, backend_name: str, request: pytest.FixtureRequest
) -> None:
    backend_gap(request, backend_name, mongomock="$first and $last skip a missing value")
    async with uow_factory() as uow:
        await uow.products.add_many(
            [Product(name="a", price=1.0), Product(name="b"), Product(name="c", price=3.0)]
        )
        await uow.commit()
    by_name = Order.by("name")
    present = Aggregation(
        values={"last": Last("price", by=by_name), "first": First("price", by=by_name)}
    )
    assert await _aggregate(uow_factory, "products", present) == [{"last": 3.0, "first": 1.0}]
    missing_first = Aggregation(
        where=F("name") != "c", values={"first": First("price", by=desc("name"))}
    )
    assert await _aggregate(uow_factory, "products", missing_first) == [{"first": None}]
    missing_last = Aggregation(where=F("name") != "c", values={"last": Last("price", by=by_name)})
    assert await _aggregate(uow_factory, "products", missing_last) == [{"last": None}]


async def test_arithmetic(
    uow_factory: UowFactory, backend_name: str, request: pytest.FixtureRequest
) -> None:
    async with uow_factory() as uow:
        await uow.products.add_many(
            [
                Product(name="a", price=3.0, stock=4),
                Product(name="b", price=None, stock=2),
                Product(name="c", price=2.5, stock=0),
            ]
        )
        await uow.commit()
    spec = Aggregation(
        by=["name"],
        values={
            "value": Sum(Field("price") * Field("stock")),
            "doubled": Max(Field("stock") * 2),
            "per_unit": Max(Field("price") / Field("stock")),
            "halves": Max(Field("stock") / 2),
            "shifted": Min(100 - Field("stock") + 0.5),
        },
    )
    assert await _aggregate(uow_factory, "products", spec) == [
        {"name": "a", "value": 12.0, "doubled": 8, "per_unit": 0.75, "halves": 2.0,
         "shifted": 96.5},
        {"name": "b", "value": 0, "doubled": 4, "per_unit": None, "halves": 1.0,
         "shifted": 98.5},
        {"name": "c", "value": 0.0, "doubled": 0, "per_unit": None, "halves": 0.0,
         "shifted": 100.5},
    ]  # fmt: skip
    rows = await _aggregate(uow_factory, "products", spec)
    assert [type(r["doubled"]) for r in rows] == [int, int, int]
    assert [type(r["halves"]) for r in rows] == [float, float, float]
    # arithmetic on a missing field is null, and Push keeps a null (not a missing value)
    backend_gap(request, backend_name, mongomock="$push leaves out a null")
    pushed = Aggregation(values={"plus_one": Push(Field("price") + 1, by="name")})
    assert await _aggregate(uow_factory, "products", pushed) == [{"plus_one": [4.0, None, 3.5]}]


async def test_unwind_groups_by_elements(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.products.add_many(
            [
                Product(name="a", tags=["x", "y"], stock=1),
                Product(name="b", tags=["x"], stock=2),
                Product(name="c", tags=[], stock=4),
                Product(name="d", stock=8),
            ]
        )
        await uow.commit()
    per_tag = Aggregation(unwind="tags", by={"tag": "tags"}, values={"stock": Sum("stock")})
    assert await _aggregate(uow_factory, "products", per_tag) == [
        {"tag": "x", "stock": 3},
        {"tag": "y", "stock": 1},
    ]
    keep = Aggregation(
        unwind=Unwind("tags", keep_empty=True),
        by={"tag": "tags"},
        values={"stock": Sum("stock"), "names": Push("name", by="name")},
    )
    assert await _aggregate(uow_factory, "products", keep) == [
        {"tag": None, "stock": 12, "names": ["c", "d"]},
        {"tag": "x", "stock": 3, "names": ["a", "b"]},
        {"tag": "y", "stock": 1, "names": ["a"]},
    ]


async def test_having_order_skip_and_limit_apply_to_groups(
    uow_factory: UowFactory, orders: list[SalesOrder]
) -> None:
    everything = Aggregation(
        unwind="items",
        by={"customer": "customer", "status": "status"},
        values={"lines": Count(), "units": Sum("items.quantity")},
    )
    rows = await _aggregate(uow_factory, "orders", everything)
    assert rows == sorted(rows, key=lambda r: (r["customer"], r["status"]))
    expected = sorted(
        (r for r in rows if r["units"] >= 10 and r["status"] != "cancelled"),
        key=lambda r: (-r["lines"], r["customer"], r["status"]),
    )
    paged = Aggregation(
        unwind="items",
        by={"customer": "customer", "status": "status"},
        values={"lines": Count(), "units": Sum("items.quantity")},
        having=(F("units") >= 10) & (F("status") != "cancelled"),
        order=Order.by(desc("lines")),
        skip=1,
        limit=3,
    )
    assert len(expected) > 4
    assert await _aggregate(uow_factory, "orders", paged) == expected[1:4]
    nothing = Aggregation(by=["customer"], values={"n": Count()}, limit=0)
    assert await _aggregate(uow_factory, "orders", nothing) == []


async def test_one_group_over_everything_and_none_over_nothing(
    uow_factory: UowFactory,
    orders: list[SalesOrder],
    backend_name: str,
    request: pytest.FixtureRequest,
) -> None:
    total = Aggregation(values={"orders": Count(), "customers": AddToSet("customer")})
    rows = await _aggregate(uow_factory, "orders", total)
    assert [r["orders"] for r in rows] == [len(orders)]
    assert sorted(rows[0]["customers"]) == sorted({o.customer for o in orders})
    backend_gap(request, backend_name, mongomock="$group over no document gives a row")
    none = Aggregation(where=F("customer") == "nobody", values={"orders": Count()})
    assert await _aggregate(uow_factory, "orders", none) == []


async def test_ids_come_out_as_strings(uow_factory: UowFactory) -> None:
    authors = sorted([new_id(), new_id()])
    books = [
        Book(title="one", author_id=authors[0]),
        Book(title="two", author_id=authors[0], editor_id=authors[1]),
        Book(title="three", author_id=authors[1]),
    ]
    async with uow_factory() as uow:
        await uow.books.add_many(books)
        await uow.commit()
    spec = Aggregation(
        by=["author_id"],
        values={"books": Count(), "editor": Max("editor_id"), "first": First("id", by="title")},
        having=F("author_id") == authors[0],
    )
    assert await _aggregate(uow_factory, "books", spec) == [
        {"author_id": authors[0], "books": 2, "editor": authors[1], "first": books[0].id}
    ]


async def test_float_sums_are_not_rounded_at_every_step(
    uow_factory: UowFactory, backend_name: str, request: pytest.FixtureRequest
) -> None:
    backend_gap(
        request,
        backend_name,
        server="$sum and $avg round after every addition",
        mongomock="$sum and $avg round after every addition",
    )
    async with uow_factory() as uow:
        await uow.products.add_many(
            [Product(name=n, price=p) for n, p in (("a", 0.1), ("b", 0.2), ("c", 0.3))]
        )
        await uow.commit()
    spec = Aggregation(values={"total": Sum("price"), "mean": Avg("price")})
    assert await _aggregate(uow_factory, "products", spec) == [{"total": 0.6, "mean": 0.6 / 3}]


async def test_distinct_of_a_path_inside_an_array(
    uow_factory: UowFactory,
    orders: list[SalesOrder],
    backend_name: str,
    request: pytest.FixtureRequest,
) -> None:
    backend_gap(request, backend_name, server='distinct("items.sku") answers []')
    async with uow_factory() as uow:
        skus = await uow.repository("orders").distinct("items.sku")
    assert sorted(skus) == sorted({i.sku for o in orders for i in o.items})


@pytest.mark.parametrize(
    ("spec", "error", "names"),
    [
        (Aggregation(by={"sku": "items.sku"}, values={"n": Count()}), UnsupportedSpec,
         "'items.sku' crosses the array 'items'"),
        (Aggregation(values={"units": Sum("items.quantity")}), UnsupportedSpec,
         "'items.quantity' crosses the array 'items'"),
        (Aggregation(values={"units": Sum(Field("items.quantity") * 2)}), UnsupportedSpec,
         "'items.quantity' crosses the array 'items'"),
        (Aggregation(values={"first": First("customer", by="items.sku")}), UnsupportedSpec,
         "'items.sku' crosses the array 'items'"),
        (Aggregation(by=["items"], values={"n": Count()}), UnsupportedSpec,
         "array 'items'.*Unwind"),
        (Aggregation(values={"top": Max("items")}), UnsupportedSpec, "array 'items'"),
        (Aggregation(unwind="customer", values={"n": Count()}), UnsupportedSpec,
         "'customer' is not an array"),
        (Aggregation(values={"n": Sum("customer")}), UnsupportedSpec,
         "'customer' holds string"),
        (Aggregation(unwind="items", values={"n": Sum(Field("items.sku") * 2)}),
         UnsupportedSpec, "'items.sku' holds string"),
        (Aggregation(by=["colour"], values={"n": Count()}), UnknownField, "colour"),
        (Aggregation(unwind="items", values={"n": Sum("items.weight")}), UnknownField,
         "items.weight"),
        (Aggregation(where=F("items.colour") == "red", values={"n": Count()}), UnknownField,
         "items.colour"),
    ],
    ids=lambda v: repr(v) if isinstance(v, Aggregation) else "",
)  # fmt: skip
async def test_paths_are_checked_before_any_query(
    uow_factory: UowFactory, spec: Aggregation, error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        await _aggregate(uow_factory, "orders", spec)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Aggregation(),
        lambda: Aggregation(by=["a"], values={"a": Count()}),
        lambda: Aggregation(by=["dimensions.width"]),
        lambda: Aggregation(values={"n.x": Count()}),
        lambda: Aggregation(values={"_id": Count()}),
        lambda: Aggregation(values={"n": "count"}),
        lambda: Aggregation(values={"n": Count()}, having=F("m") > 1),
        lambda: Aggregation(values={"n": Count()}, order=Order.by("m")),
        lambda: Aggregation(values={"l": Push("x")}, order=Order.by("l")),
        lambda: Aggregation(values={"l": Push("x")}, having=F("l") == 1),
        lambda: Aggregation(values={"n": Count()}, limit=-1),
        lambda: Aggregation(values={"n": Count()}, skip=None),
        lambda: Aggregation(values={"n": Count()}, unwind=["a", "a"]),
        lambda: Aggregation(values={"n": Count()}, where="a"),
        lambda: First("x", by=Order()),
        lambda: Sum(Field("x") + "y"),
        lambda: Sum(Field("x") * True),
        lambda: Sum({"$add": [1, 2]}),
        lambda: Field("$where"),
        lambda: Unwind("a.$b"),
    ],
)
def test_bad_aggregations_raise_unsupported(make: Callable[[], Any]) -> None:
    with pytest.raises(UnsupportedSpec):
        make()


def test_aggregations_are_values() -> None:
    def make() -> Aggregation:
        return Aggregation(
            unwind="items",
            by={"sku": "items.sku"},
            values={"revenue": Sum(Field("items.quantity") * Field("items.unit_price_cents"))},
            order=Order.by(desc("revenue"), asc("sku")),
        )

    assert make() == make() and hash(make()) == hash(make())
    assert repr(make()) == (
        "Aggregation(unwind=[Unwind('items')], by={'sku': Field('items.sku')}, "
        "values={'revenue': Sum((Field('items.quantity') * Field('items.unit_price_cents')))}, "
        "order=Order.by(desc('revenue'), asc('sku')))"
    )
