"""Aggregation specs compiled to one MongoDB aggregation pipeline (plain dicts).

The pipeline is ``$match`` (where), ``$unwind`` per step, a ``$sort`` when First/Last/
Push have an order (ties broken by ``_id`` then the array index, so the rows' order is
total), ``$group`` (keys under ``_id.k<i>``, nulls and missing values as null),
``$project`` to the row names, ``$match`` (having), ``$sort`` (the order, then every key),
``$skip`` and ``$limit``.  Ids come out as strings: keys and compared values reading an
id field go through ``$toString``; the rest is converted by :func:`aggregation_rows`.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from bson import Decimal128

from persistence.aggregation import (
    AddToSet,
    Aggregation,
    Arith,
    Avg,
    Const,
    Count,
    Expr,
    Field,
    First,
    Last,
    Max,
    Min,
    Push,
    Sum,
)
from persistence.errors import UnsupportedSpec
from persistence.query.mongo_filter import IdPaths, compile_filter, db_path

__all__ = [
    "UNWIND_INDEX",
    "aggregation_rows",
    "compile_aggregation",
    "compile_expr",
    "row_value",
]

UNWIND_INDEX = "__unwind_index_{}"
"""The field holding an unwound element's position (only when rows are ordered)."""

_ARITH = {"+": "$add", "-": "$subtract", "*": "$multiply"}


def compile_expr(expression: Expr, ids: IdPaths = frozenset()) -> Any:
    """The aggregation expression for ``expression``; a field among ``ids`` (paths
    holding ids) is read as a string."""
    if isinstance(expression, Field):
        reference = f"${db_path(expression.path)}"
        if expression.path in ids:
            return {"$toString": reference}
        return reference
    if isinstance(expression, Const):
        return {"$literal": expression.value}
    if isinstance(expression, Arith):
        left, right = compile_expr(expression.left), compile_expr(expression.right)
        if expression.op == "/":  # a zero divisor gives null instead of failing the query
            return {"$cond": [{"$eq": [right, 0]}, None, {"$divide": [left, right]}]}
        return {_ARITH[expression.op]: [left, right]}
    raise UnsupportedSpec(f"cannot translate the expression {expression!r}")


def _accumulator(accumulator: Any, ids: IdPaths) -> dict[str, Any]:
    if isinstance(accumulator, Count):
        return {"$sum": 1}
    operator = {
        Sum: "$sum",
        Avg: "$avg",
        Min: "$min",
        Max: "$max",
        First: "$first",
        Last: "$last",
        Push: "$push",
        AddToSet: "$addToSet",
    }.get(type(accumulator))
    if operator is None:
        raise UnsupportedSpec(f"cannot translate the accumulator {accumulator!r}")
    # a missing id must stay missing in a list, so only single values become strings
    as_strings = not isinstance(accumulator, (Push, AddToSet))
    return {operator: compile_expr(accumulator.of, ids if as_strings else frozenset())}


def row_value(path: str, value: Any) -> Any:
    """A value of a ``having`` predicate as it compares with the rows: a ``date`` as its
    midnight, a ``Decimal`` as a ``Decimal128`` (rows hold what the store computed)."""
    if type(value) is datetime.date:
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, decimal.Decimal):
        return Decimal128(value)
    return value


def compile_aggregation(
    spec: Aggregation,
    ids: IdPaths = frozenset(),
    value_of: Callable[[str, Any], Any] | None = None,
) -> list[dict[str, Any]]:
    """The pipeline answering ``spec`` (``spec.limit`` must not be 0: check it first);
    ``ids`` are the paths holding ids (ObjectIds when stored); ``value_of(path, value)``
    makes the ``where`` predicate's values stored values (by default ids only)."""
    if spec.limit == 0:
        raise UnsupportedSpec("a limit of 0 has no pipeline: the answer is no rows")
    pipeline: list[dict[str, Any]] = []
    where = compile_filter(spec.where, ids, value_of)
    if where:
        pipeline.append({"$match": where})
    row_order = spec.row_order
    for index, step in enumerate(spec.unwind):
        unwind: dict[str, Any] = {"path": f"${db_path(step.path)}"}
        if step.keep_empty:
            unwind["preserveNullAndEmptyArrays"] = True
        if row_order is not None:
            unwind["includeArrayIndex"] = UNWIND_INDEX.format(index)
        pipeline.append({"$unwind": unwind})
    if row_order is not None:
        sort: dict[str, int] = {}
        for key in row_order.keys:
            sort.setdefault(db_path(key.path), -1 if key.descending else 1)
        sort.setdefault("_id", 1)
        for index in range(len(spec.unwind)):
            sort.setdefault(UNWIND_INDEX.format(index), 1)
        pipeline.append({"$sort": sort})
    group: dict[str, Any] = {
        "_id": {
            f"k{i}": {"$ifNull": [compile_expr(key, ids), None]}
            for i, (_, key) in enumerate(spec.by)
        }
    }
    for name, accumulator in spec.values:
        group[name] = _accumulator(accumulator, ids)
    pipeline.append({"$group": group})
    project: dict[str, Any] = {"_id": 0}
    for i, (name, _) in enumerate(spec.by):
        project[name] = f"$_id.k{i}"
    for name, _ in spec.values:
        project[name] = 1
    pipeline.append({"$project": project})
    having = compile_filter(spec.having, frozenset(), row_value)  # ids in rows are strings
    if having:
        pipeline.append({"$match": having})
    final: dict[str, int] = {}
    for key in spec.order.keys:
        final.setdefault(key.path, -1 if key.descending else 1)
    for name, _ in spec.by:
        final.setdefault(name, 1)
    if final:
        pipeline.append({"$sort": final})
    if spec.skip:
        pipeline.append({"$skip": spec.skip})
    if spec.limit is not None:
        pipeline.append({"$limit": spec.limit})
    return pipeline


def aggregation_rows(
    spec: Aggregation, rows: list[dict[str, Any]], convert: Callable[[Any], Any]
) -> list[dict[str, Any]]:
    """Pipeline output as ``{name: value}`` rows in the spec's name order."""
    names = spec.names
    return [{name: convert(row.get(name)) for name in names} for row in rows]
