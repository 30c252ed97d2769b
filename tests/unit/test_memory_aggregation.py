"""The memory adapter's evaluator follows MongoDB where mongomock does not."""

from __future__ import annotations

import datetime
import functools
from typing import Any

import mongomock
import pytest

from persistence.aggregation import AddToSet, Aggregation, Count, Field, Max, Min, Sum, Unwind
from persistence.memory.aggregation import MISSING, bson_compare, evaluate

DOCS: list[dict[str, Any]] = [
    {"_id": "1", "k": 1, "v": 2**62, "s": "b", "tags": ["x", "y"]},
    {"_id": "2", "k": 1.0, "v": 2**62, "s": 5, "tags": []},
    {"_id": "3", "k": True, "v": 3, "s": None},
    {"_id": "4", "k": None, "v": 1.5, "tags": None},
    {"_id": "5", "v": 0.5},
]


def test_bson_order_across_types() -> None:
    values = [
        datetime.datetime(2020, 1, 1), True, [1], {"a": 1}, "a", 2.5, 1, None, MISSING,
        float("nan"), ["a"], {"a": "x"}, False,
    ]  # fmt: skip
    ordered = sorted(values, key=functools.cmp_to_key(bson_compare))
    ranks = ["null", "null", "nan", "1", "2.5", "a", "{'a': 1}", "{'a': 'x'}", "[1]", "['a']",
             "False", "True", "date"]  # fmt: skip
    shown = [
        "null" if v is None or v is MISSING else "nan" if v != v else
        "date" if isinstance(v, datetime.datetime) else str(v)
        for v in ordered
    ]  # fmt: skip
    assert shown == ranks


def test_grouping_equates_numbers_but_not_booleans() -> None:
    rows = evaluate(Aggregation(by=["k"], values={"n": Count()}), DOCS)
    assert rows == [{"k": None, "n": 2}, {"k": 1, "n": 2}, {"k": True, "n": 1}]
    (row,) = evaluate(Aggregation(values={"ks": AddToSet("k")}), DOCS)
    assert row["ks"] == [1, True, None]


def test_integer_overflow_becomes_a_double() -> None:
    (row,) = evaluate(Aggregation(values={"v": Sum("v")}), DOCS[:2])
    assert row == {"v": float(2**63)}
    (row,) = evaluate(Aggregation(values={"v": Max(Field("v") * 4)}), DOCS[:1])
    assert row == {"v": float(2**64)}


def test_min_and_max_skip_nulls_and_compare_across_types() -> None:
    assert evaluate(Aggregation(values={"lo": Min("s"), "hi": Max("s")}), DOCS) == [
        {"lo": 5, "hi": "b"}
    ]


def test_unwind_keep_empty_drops_an_empty_array_and_keeps_a_null() -> None:
    spec = Aggregation(
        unwind=Unwind("tags", keep_empty=True), by={"tag": "tags"}, values={"n": Count()}
    )
    assert evaluate(spec, DOCS) == [
        {"tag": None, "n": 4},
        {"tag": "x", "n": 1},
        {"tag": "y", "n": 1},
    ]


def test_same_answers_as_mongomock_where_it_follows_mongodb() -> None:
    """The pipeline compiled for MongoDB, run by mongomock, gives the evaluator's rows."""
    from persistence.query.aggregation_pipeline import compile_aggregation

    collection = mongomock.MongoClient().db.c
    docs = [
        {"_id": str(i), "g": i % 3, "x": i * 1.5, "tags": ["a", "b"][: i % 3]} for i in range(9)
    ]
    collection.insert_many([dict(d) for d in docs])
    spec = Aggregation(
        unwind="tags",
        by={"g": "g", "tag": "tags"},
        values={"n": Count(), "x": Sum(Field("x") * 2), "top": Max("x")},
    )
    assert list(collection.aggregate(compile_aggregation(spec))) == evaluate(spec, docs)


@pytest.mark.parametrize("limit", [0, 1])
def test_limit(limit: int) -> None:
    spec = Aggregation(by=["k"], values={"n": Count()}, limit=limit, skip=1)
    assert len(evaluate(spec, DOCS)) == limit
