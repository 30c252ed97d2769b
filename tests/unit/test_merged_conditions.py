"""Conjunctions compiled to one flat filter where MongoDB reads it the same way."""

from __future__ import annotations

import pytest

from persistence.query.mongo_filter import compile_filter, merged_conditions
from persistence.specs import F


@pytest.mark.parametrize(
    "parts, merged",
    [
        ([], {}),
        ([{}, {"a": 1}], {"a": 1}),
        ([{"a": {"$gte": 1}}, {"a": {"$lt": 5}}], {"a": {"$gte": 1, "$lt": 5}}),
        ([{"a": 1}, {"a": {"$ne": 2}}], {"a": {"$eq": 1, "$ne": 2}}),
        ([{"a": 1}, {"b": {"$in": [1]}}], {"a": 1, "b": {"$in": [1]}}),
        ([{"a": {"x": 1}}, {"a": {"$ne": None}}], {"a": {"$eq": {"x": 1}, "$ne": None}}),
    ],
)
def test_parts_without_a_repeated_operator_merge(parts: list[dict], merged: dict) -> None:
    assert merged_conditions(parts) == merged


@pytest.mark.parametrize(
    "parts",
    [
        [{"a": {"$gt": 1}}, {"a": {"$gt": 2}}],  # the same operator twice
        [{"a": 1}, {"a": 2}],  # two equalities
        [{"$or": [{"a": 1}]}, {"$or": [{"b": 1}]}],  # two $or clauses
    ],
)
def test_a_repeated_operator_keeps_and(parts: list[dict]) -> None:
    assert merged_conditions(parts) == {"$and": parts}


def test_compiled_conjunctions() -> None:
    spec = (F("n") >= 1) & (F("n") < 5) & (F("name") == "x")
    assert compile_filter(spec, frozenset()) == {"n": {"$gte": 1, "$lt": 5}, "name": "x"}
    twice = (F("n") > 1) & (F("n") > 2)
    assert compile_filter(twice, frozenset()) == {"$and": [{"n": {"$gt": 1}}, {"n": {"$gt": 2}}]}
