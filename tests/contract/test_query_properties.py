"""Property test: random specs (queries and aggregations) over random data give the same
results in memory and on the server."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.registry import registry
from domain.entities import Dimensions, Product
from persistence.aggregation import (
    AddToSet,
    Aggregation,
    Arith,
    Avg,
    Const,
    Count,
    Field,
    First,
    Last,
    Max,
    Min,
    Push,
    Sum,
)
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.specs import All, F, Order, Page, Predicate, SortKey

CATEGORIES = ["tools", "craft", "garden", None]
TAGS = ["a", "b", "c", "d"]


def _dataset(seed: int = 7, size: int = 40) -> list[Product]:
    rng = random.Random(seed)
    products = []
    for i in range(size):
        dims = None
        if rng.random() < 0.6:
            width = rng.choice([None, 1.0, 2.5, 10.0])
            dims = Dimensions(width=width, height=rng.choice([None, 3.0]))
        products.append(
            Product(
                name=f"{rng.choice(['ab', 'Ab', 'cd', 'x.y', 'ab cd'])}{i}",
                category=rng.choice(CATEGORIES),
                price=rng.choice([None, 0.5, 1.0, 2.0, 2.0, 7.25, 10.0]),
                stock=rng.randint(0, 5),
                tags=rng.sample(TAGS, rng.randint(0, 3)),
                dimensions=dims,
            )
        )
    return products


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "category": st.sampled_from(CATEGORIES),
    "price": st.sampled_from([None, 0.5, 1, 2.0, 7.25, 10, 11]),
    "stock": st.integers(-1, 6),
    "tags": st.sampled_from([*TAGS, "z"]),
    "dimensions.width": st.sampled_from([None, 1.0, 2.5, 10.0]),
    "name": st.sampled_from(["ab", "Ab", "cd", "x.y", "ab1", "zz"]),
}


@st.composite
def leaf(draw: st.DrawFn) -> Predicate:
    path = draw(st.sampled_from(sorted(FIELDS)))
    value = draw(FIELDS[path])
    kind = draw(st.sampled_from(["eq", "ne", "lt", "gte", "in", "nin", "exists", "re", "item"]))
    field = F(path)
    if kind == "eq":
        return field == value
    if kind == "ne":
        return field != value
    if kind in ("lt", "gte") and value is not None:
        return field < value if kind == "lt" else field >= value
    if kind in ("in", "nin"):
        values = draw(st.lists(FIELDS[path], min_size=1, max_size=3))
        return field.in_(values) if kind == "in" else field.not_in(values)
    if kind == "re" and isinstance(value, str):
        anchor = draw(st.sampled_from(["none", "start", "end", "both"]))
        pattern = value[:2].replace(".", r"\.")
        return field.matches(pattern, anchor=anchor, ignore_case=draw(st.booleans()))
    if kind == "item" and path == "tags":
        return field.contains_item(value)
    return field.exists(draw(st.booleans()))


predicates = st.recursive(
    leaf(),
    lambda children: st.one_of(
        st.tuples(children, children).map(lambda p: p[0] & p[1]),
        st.tuples(children, children).map(lambda p: p[0] | p[1]),
        children.map(lambda p: ~p),
    ),
    max_leaves=4,
)
orders = st.lists(
    st.builds(
        SortKey,
        st.sampled_from(["category", "price", "stock", "name", "dimensions.width"]),
        st.booleans(),
    ),
    max_size=2,
    unique_by=lambda k: k.path,
).map(lambda keys: Order(tuple(keys)))


@pytest.fixture
async def both(mongo_uow_factory: Callable[[], Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    data = _dataset()
    store = InMemoryStore()
    memory = lambda: InMemoryUnitOfWork(registry, store)  # noqa: E731
    for factory in (memory, mongo_uow_factory):
        async with factory() as uow:
            await uow.products.add_many(data)
            await uow.commit()
    return memory, mongo_uow_factory


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=predicates, order=orders, skip=st.integers(0, 5), limit=st.integers(0, 8))
async def test_memory_and_server_agree(
    both: tuple[Callable[[], Any], Callable[[], Any]],
    spec: Predicate,
    order: Order,
    skip: int,
    limit: int,
) -> None:
    results = []
    for factory in both:
        async with factory() as uow:
            found = await uow.products.find(spec, order=order, page=Page(skip=skip, limit=limit))
            count = await uow.products.count(spec)
            tags = sorted(await uow.products.distinct("tags", spec))
        results.append(([p.id for p in found], count, tags))
    assert results[0] == results[1], f"memory and server differ for {spec!r} {order!r}"


# -- groups: random aggregation specs --------------------------------------------------------

NUMERIC = ["price", "stock", "dimensions.width"]
numbers = st.one_of(
    st.sampled_from(NUMERIC).map(Field), st.sampled_from([0, 1, 2, 0.5, -3]).map(Const)
)


def _arithmetic(exact: bool) -> st.SearchStrategy[Any]:
    """Expressions; ``exact`` leaves out ``/`` so sums stay exact in binary floats."""
    ops = ["+", "-", "*"] if exact else ["+", "-", "*", "/"]
    return st.recursive(
        numbers,
        lambda inner: st.builds(Arith, st.sampled_from(ops), inner, inner),
        max_leaves=3,
    )


@st.composite
def aggregations(draw: st.DrawFn) -> Aggregation:
    unwound = draw(st.booleans())
    keys: dict[str, Any] = {}
    candidates = {"k_category": "category", "k_stock": "stock", "k_width": "dimensions.width"}
    if unwound:
        candidates["k_tag"] = "tags"
    for name in draw(st.lists(st.sampled_from(sorted(candidates)), max_size=2, unique=True)):
        keys[name] = candidates[name]
    if draw(st.integers(0, 4)) == 0:
        keys["k_expr"] = draw(_arithmetic(exact=False))
    row_order = draw(orders.filter(lambda o: bool(o.keys)))
    scalar_paths = ["name", "category", "price", "stock", "dimensions.width"]
    if unwound:
        scalar_paths.append("tags")
    accumulators = st.one_of(
        st.just(Count()),
        st.builds(Sum, _arithmetic(exact=True)),
        st.builds(Avg, _arithmetic(exact=True)),
        st.builds(Min, st.one_of(st.sampled_from(scalar_paths), _arithmetic(exact=False))),
        st.builds(Max, st.one_of(st.sampled_from(scalar_paths), _arithmetic(exact=False))),
        st.builds(First, st.sampled_from(scalar_paths), st.just(row_order)),
        st.builds(Last, st.sampled_from(scalar_paths), st.just(row_order)),
        st.builds(Push, st.sampled_from(scalar_paths), st.just(row_order)),
        st.builds(AddToSet, st.sampled_from(scalar_paths)),
    )
    values = {
        f"v{i}": a for i, a in enumerate(draw(st.lists(accumulators, min_size=1, max_size=4)))
    }
    scalars = [n for n in [*keys, *values] if not isinstance(values.get(n), (Push, AddToSet))]
    having = All()
    if scalars and draw(st.booleans()):
        name = draw(st.sampled_from(scalars))
        bound = draw(st.sampled_from([None, 0, 1, 2.5, 5, "craft", "tools"]))
        having = draw(
            st.sampled_from(
                [F(name) == bound, F(name) != bound, F(name).exists()]
                + ([F(name) > bound, F(name) <= bound] if bound is not None else [])
            )
        )
    group_order = []
    if scalars:
        group_order = draw(
            st.lists(
                st.builds(SortKey, st.sampled_from(scalars), st.booleans()),
                max_size=2,
                unique_by=lambda k: k.path,
            )
        )
    return Aggregation(
        where=draw(predicates),
        unwind=("tags",) if unwound else (),
        by=keys,
        values=values,
        having=having,
        order=Order(tuple(group_order)),
        skip=draw(st.integers(0, 3)),
        limit=draw(st.none() | st.integers(0, 6)),
    )


def _comparable(spec: Aggregation, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``AddToSet`` lists have no order: sort them."""
    sets = [name for name, a in spec.values if isinstance(a, AddToSet)]
    return [{**row, **{n: sorted(row[n], key=repr) for n in sets}} for row in rows]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=aggregations())
async def test_memory_and_server_agree_on_groups(
    both: tuple[Callable[[], Any], Callable[[], Any]], spec: Aggregation
) -> None:
    results = []
    for factory in both:
        async with factory() as uow:
            results.append(_comparable(spec, await uow.products.aggregate(spec)))
    assert results[0] == results[1], f"memory and server differ for {spec!r}"
