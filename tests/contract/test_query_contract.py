"""Query specs give the same results on every backend (MongoDB's semantics)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Dimensions, Product
from persistence.aggregation import Aggregation, Avg, Count, Max, Min, Sum
from persistence.errors import Conflict, UnitOfWorkError, UnknownField, UnsupportedSpec
from persistence.specs import (
    All,
    Changes,
    F,
    Order,
    Page,
    asc,
    desc,
    keyset_after,
)

UowFactory = Callable[[], Any]

CATALOGUE = [
    dict(name="hammer", category="tools", price=12.5, stock=3, tags=["steel", "sale"],
         dimensions=Dimensions(width=10.0, height=30.0)),
    dict(name="saw", category="tools", price=20.0, stock=0, tags=["steel"]),
    dict(name="glue", category="craft", price=2.5, stock=40, tags=[]),
    dict(name="paper", category="craft", price=None, stock=100, tags=["sale"],
         dimensions=Dimensions(width=21.0)),
    dict(name="mystery", category=None, price=7.0, stock=1),
    dict(name="Nails", category="tools", price=2.5, stock=500, tags=["steel", "bulk"]),
]  # fmt: skip


@pytest.fixture
async def catalogue(uow_factory: UowFactory) -> dict[str, Product]:
    products = [Product(**fields) for fields in CATALOGUE]
    async with uow_factory() as uow:
        await uow.products.add_many(products)
        await uow.commit()
    return {p.name: p for p in products}


async def _names(uow_factory: UowFactory, spec: Any = None, **kwargs: Any) -> list[str]:
    async with uow_factory() as uow:
        found = await uow.products.find(spec if spec is not None else All(), **kwargs)
    return [p.name for p in found]


CASES = [
    (F("category") == "tools", ["hammer", "saw", "Nails"]),
    (F("category") != "tools", ["glue", "paper", "mystery"]),
    (F("category") == None, ["mystery"]),  # noqa: E711 - a spec, not a comparison
    (F("price") < 7.0, ["glue", "Nails"]),
    (F("price") >= 12.5, ["hammer", "saw"]),
    (F("price") <= 7, ["glue", "mystery", "Nails"]),
    (F("price") > 100, []),
    (F("name").in_(["saw", "glue", "nope"]), ["saw", "glue"]),
    (F("category").not_in(["tools"]), ["glue", "paper", "mystery"]),
    (F("name").contains("a"), ["hammer", "saw", "paper", "Nails"]),
    (F("name").contains("A"), []),
    (F("name").startswith("n"), []),
    (F("name").matches("^n", ignore_case=True), ["Nails"]),
    (F("name").matches("er", anchor="end"), ["hammer", "paper"]),
    (F("name").matches("s", anchor="both"), []),
    (F("name").matches("s.*"), ["saw", "mystery", "Nails"]),
    (F("name").matches(".", anchor="none"), [c["name"] for c in CATALOGUE]),
    (F("price").exists(), ["hammer", "saw", "glue", "mystery", "Nails"]),
    (F("price").exists(False), ["paper"]),
    (F("tags") == "sale", ["hammer", "paper"]),  # any element matches
    (F("tags").contains_item("steel"), ["hammer", "saw", "Nails"]),
    (F("dimensions.width") > 15, ["paper"]),
    (F("dimensions.height") == None, ["saw", "glue", "paper", "mystery", "Nails"]),  # noqa: E711
    ((F("category") == "tools") & (F("stock") > 0), ["hammer", "Nails"]),
    ((F("category") == "craft") | (F("price") > 15), ["saw", "glue", "paper"]),
    (~(F("category") == "tools"), ["glue", "paper", "mystery"]),
    (~F("price").exists() | (F("stock") == 0), ["saw", "paper"]),
    (All(), [c["name"] for c in CATALOGUE]),
    (F("name") == "$where", []),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
async def test_find_matches_like_mongodb(
    uow_factory: UowFactory, catalogue: dict[str, Product], spec: Any, expected: list[str]
) -> None:
    assert sorted(await _names(uow_factory, spec)) == sorted(expected)
    async with uow_factory() as uow:
        assert await uow.products.count(spec) == len(expected)
        assert await uow.products.exists(spec) is bool(expected)


async def test_ordering_uses_bson_order_and_breaks_ties_by_id(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    by_price = await _names(uow_factory, order=Order.by(asc("price")))
    assert by_price[0] == "paper"  # missing price sorts first (null)
    ties = [n for n in by_price if catalogue[n].price == 2.5]
    assert ties == sorted(ties, key=lambda n: catalogue[n].id)
    descending = await _names(uow_factory, order=Order.by(desc("price"), asc("name")))
    assert descending == ["saw", "hammer", "mystery", "Nails", "glue", "paper"]
    by_category = await _names(uow_factory, order=Order.by("category", desc("stock")))
    assert by_category == ["mystery", "paper", "glue", "Nails", "hammer", "saw"]


async def test_skip_limit_and_first(uow_factory: UowFactory, catalogue: dict[str, Product]) -> None:
    order = Order.by("name")
    assert await _names(uow_factory, order=order, page=Page(skip=1, limit=2)) == ["glue", "hammer"]
    assert await _names(uow_factory, order=order, page=Page(limit=0)) == []
    async with uow_factory() as uow:
        first = await uow.products.first(F("category") == "craft", order=Order.by(desc("stock")))
        none = await uow.products.first(F("price") > 1000)
    assert first is not None and first.name == "paper"
    assert none is None


@pytest.mark.parametrize(
    "order",
    [Order.by("price"), Order.by(desc("price")), Order.by("category", desc("name")), Order()],
    ids=repr,
)
async def test_keyset_pages_never_repeat_or_drop(
    uow_factory: UowFactory, catalogue: dict[str, Product], order: Order
) -> None:
    everything = await _names(uow_factory, order=order)
    seen: list[str] = []
    page = Page(limit=2)
    while True:
        async with uow_factory() as uow:
            batch = await uow.products.find(order=order, page=page)
        if not batch:
            break
        seen.extend(p.name for p in batch)
        page = Page(limit=2, after=keyset_after(batch[-1], order))
    assert seen == everything
    assert sorted(seen) == sorted(catalogue)


async def test_iterate_yields_everything_in_order(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    async with uow_factory() as uow:
        names = [p.name async for p in uow.products.iterate(order=Order.by("name"), batch_size=2)]
    assert names == sorted(catalogue)


async def test_distinct_flattens_arrays_and_ignores_missing(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    async with uow_factory() as uow:
        tags = await uow.products.distinct("tags")
        tool_tags = await uow.products.distinct("tags", F("category") == "tools")
        categories = await uow.products.distinct("category")
        widths = await uow.products.distinct("dimensions.width")
    assert sorted(tags) == ["bulk", "sale", "steel"]
    assert sorted(tool_tags) == ["bulk", "sale", "steel"]
    assert sorted(c for c in categories if c is not None) == ["craft", "tools"]
    assert sorted(widths) == [10.0, 21.0]


async def test_projection(uow_factory: UowFactory, catalogue: dict[str, Product]) -> None:
    async with uow_factory() as uow:
        rows = await uow.products.project(
            ["name", "dimensions.width"], F("category") == "craft", order=Order.by("name")
        )
    assert rows == [
        {"id": catalogue["glue"].id, "name": "glue", "dimensions.width": None},
        {"id": catalogue["paper"].id, "name": "paper", "dimensions.width": 21.0},
    ]


async def test_group_by_with_aggregates(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    group = Aggregation(
        by=["category"],
        values={
            "n": Count(),
            "stock": Sum("stock"),
            "avg_price": Avg("price"),
            "cheapest": Min("price"),
            "dearest": Max("price"),
        },
        where=F("stock") > 0,
        order=Order.by(desc("n")),
    )
    async with uow_factory() as uow:
        rows = await uow.products.aggregate(group)
    assert rows == [
        {"category": "craft", "n": 2, "stock": 140, "avg_price": 2.5, "cheapest": 2.5,
         "dearest": 2.5},
        {"category": "tools", "n": 2, "stock": 503, "avg_price": 7.5, "cheapest": 2.5,
         "dearest": 12.5},
        {"category": None, "n": 1, "stock": 1, "avg_price": 7.0, "cheapest": 7.0,
         "dearest": 7.0},
    ]  # fmt: skip


async def test_update_where_applies_typed_changes(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    changes = Changes().inc("stock", 10).push("tags", "restocked").set("category", "hardware")
    async with uow_factory() as uow:
        count = await uow.products.update_where(F("category") == "tools", changes)
        await uow.products.update_where(F("name") == "paper", Changes().pull("tags", "sale"))
        await uow.products.update_where(F("name") == "glue", Changes().unset("price"))
        await uow.commit()
    assert count == 3
    async with uow_factory() as uow:
        products = {p.name: p for p in await uow.products.find()}
    hammer = products["hammer"]
    assert (hammer.stock, hammer.category, hammer.tags, hammer.version) == (
        13, "hardware", ["steel", "sale", "restocked"], 1,
    )  # fmt: skip
    assert products["paper"].tags == []
    assert products["glue"].price is None
    assert products["mystery"].version == 0


async def test_update_where_validates_before_writing(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError):
            await uow.products.update_where(All(), Changes().set("name", ""))
        with pytest.raises(UnknownField):
            await uow.products.update_where(All(), Changes().set("colour", "red"))
        with pytest.raises(UnsupportedSpec):
            await uow.products.update_where(All(), Changes().unset("name"))
        await uow.commit()
    assert sorted(await _names(uow_factory)) == sorted(catalogue)


async def test_remove_where(uow_factory: UowFactory, catalogue: dict[str, Product]) -> None:
    async with uow_factory() as uow:
        assert await uow.products.remove_where(F("stock") < 5) == 3
        await uow.commit()
    assert sorted(await _names(uow_factory)) == ["Nails", "glue", "paper"]


async def test_add_many_conflict_leaves_nothing(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")  # without one, MongoDB keeps what an ordered insert wrote
    existing = Product(name="old")
    async with uow_factory() as uow:
        await uow.products.add(existing)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.products.add_many([Product(name="new"), Product(id=existing.id, name="dup")])
        with pytest.raises(UnitOfWorkError):
            await uow.commit()
    assert await _names(uow_factory) == ["old"]


async def test_unknown_fields_are_refused_before_any_query(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    async with uow_factory() as uow:
        for call in (
            lambda: uow.products.find(F("colour") == "red"),
            lambda: uow.products.find(order=Order.by("colour")),
            lambda: uow.products.count(F("dimensions.depth") > 1),
            lambda: uow.products.distinct("colour"),
            lambda: uow.products.project(["colour"]),
            lambda: uow.products.aggregate(Aggregation(by=["colour"], values={"n": Count()})),
            lambda: uow.products.remove_where(F("colour") == "red"),
        ):
            with pytest.raises(UnknownField, match=r"colour|depth"):
                await call()


def test_specs_are_values() -> None:
    a = (F("a") == 1) & (F("b").in_([1, 2]) | ~F("c").exists())
    b = (F("a") == 1) & (F("b").in_([1, 2]) | ~F("c").exists())
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert repr(a) == "(F('a') == 1 & (F('b').in_([1, 2]) | ~F('c').exists(True)))"
    assert Order.by(desc("x")).with_id()[-1] == desc("id")


@pytest.mark.parametrize(
    "make",
    [
        lambda: F("a") == {"$gt": ""},  # an operator smuggled in as a value
        lambda: F("a") == ["x"],
        lambda: F("$where") == 1,
        lambda: F("a.$gt") == 1,
        lambda: F("a").in_("abc"),
        lambda: F("a").matches("("),
        lambda: Page(limit=-1),
        lambda: Aggregation(values={"n": "median"}),
        lambda: Changes().set("id", "x"),
    ],
)
def test_bad_specs_raise_unsupported(make: Callable[[], Any]) -> None:
    with pytest.raises(UnsupportedSpec):
        make()


async def test_operator_injection_through_values_is_inert(
    uow_factory: UowFactory, catalogue: dict[str, Product]
) -> None:
    for hostile in ("$where", "{'$gt': ''}", ".*", "name__ne"):
        assert await _names(uow_factory, F("name") == hostile) == []
    assert await _names(uow_factory, F("name").contains(".*")) == []
