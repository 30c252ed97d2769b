"""Filters compiled once per spec shape agree with the long way (check the spec, then
compile it): the same filter or the same error, on a first and on a later spec."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.library import Book
from persistence.query.mongo_filter import compile_filter
from persistence.query.plan import QueryPlanner
from persistence.specs import F, Predicate

PLANNER = QueryPlanner(registry.registration(Book))

ids = st.builds(lambda: str(ObjectId()))
values: dict[str, st.SearchStrategy[Any]] = {
    "title": st.one_of(st.text(max_size=3), st.integers(0, 3), st.none()),
    "author_id": st.one_of(ids, st.text(max_size=3), st.none()),
    "editor_id": st.one_of(ids, st.none(), st.integers(0, 3)),
    "version": st.one_of(st.integers(-2, 5), st.floats(-1, 1), st.text(max_size=2)),
    "attachments.filename": st.one_of(st.text(max_size=3), st.none()),
    "nope": st.integers(0, 3),  # a path Book lacks
}


@st.composite
def leaf(draw: st.DrawFn) -> Predicate:
    path = draw(st.sampled_from(sorted(values)))
    value = draw(values[path])
    kind = draw(st.sampled_from(["eq", "ne", "lt", "gte", "in", "nin", "exists", "re"]))
    field = F(path)
    if kind == "eq":
        return field == value
    if kind == "ne":
        return field != value
    if kind in ("lt", "gte"):
        return field < value if kind == "lt" else field >= value
    if kind in ("in", "nin"):
        listed = [value, *draw(st.lists(values[path], max_size=2))]
        return field.in_(listed) if kind == "in" else field.not_in(listed)
    if kind == "exists":
        return field.exists(draw(st.booleans()))
    return field.startswith("a")


specs = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda items: _all(items)),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: _any(items)),
        inner.map(lambda item: ~item),
    ),
    max_leaves=5,
)


def _all(items: list[Predicate]) -> Predicate:
    found = items[0]
    for item in items[1:]:
        found = found & item
    return found


def _any(items: list[Predicate]) -> Predicate:
    found = items[0]
    for item in items[1:]:
        found = found | item
    return found


def _long_way(spec: Predicate) -> Any:
    try:
        PLANNER.check_predicate(spec)
        return compile_filter(spec, PLANNER.ids)
    except Exception as error:
        return (type(error), str(error))


def _shaped(spec: Predicate) -> Any:
    try:
        return PLANNER.where(spec)
    except Exception as error:
        return (type(error), str(error))


@settings(max_examples=400, deadline=None)
@given(specs, specs)
def test_a_shape_compiled_once_gives_what_compiling_gives(
    first: Predicate, then: Predicate
) -> None:
    assert _shaped(first) == _long_way(first)
    assert _shaped(first) == _long_way(first)  # the shape remembered
    assert _shaped(then) == _long_way(then)


def test_specs_of_one_shape_share_a_template_and_keep_their_values() -> None:
    author = str(ObjectId())
    one = PLANNER.where((F("version") >= 1) & (F("author_id") == author))
    two = PLANNER.where((F("version") >= 7) & (F("author_id") == str(ObjectId())))
    assert one == {"version": {"$gte": 1}, "author_id": ObjectId(author)}
    assert two["version"] == {"$gte": 7} and two["author_id"] != one["author_id"]
    assert len(PLANNER._filters._templates) >= 1
