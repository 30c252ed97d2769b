"""Aggregation specs evaluated over plain stored documents, with MongoDB's semantics.

The same steps as the pipeline of :mod:`persistence.query.aggregation_pipeline`, written out in
Python: the ``where`` and ``having`` predicates are matched as the memory adapter's
queries are (mongomock's matcher on the compiled filter); grouping, arithmetic,
accumulators and sorting follow MongoDB's rules (see :mod:`persistence.aggregation`),
including where mongomock does not: an empty input gives no group, ``$last`` of a
missing value is null, sums of floats are not rounded at every step, ``True`` is not
``1``, and values of different types compare in BSON order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any, cast

from bson import Decimal128
from mongomock import filtering

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
from persistence.query.aggregation_pipeline import row_value
from persistence.query.bson_order import MISSING, bson_compare
from persistence.query.mongo_filter import compile_filter, db_path
from persistence.specs import Order

__all__ = ["MISSING", "bson_compare", "canonical", "evaluate"]

_INT64 = (-(2**63), 2**63 - 1)


_Row = tuple[dict[str, Any], tuple[int, ...]]
filter_applies = cast(Callable[[dict[str, Any], dict[str, Any]], bool], filtering.filter_applies)


def evaluate(
    spec: Aggregation,
    documents: Iterable[dict[str, Any]],
    as_stored: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    *,
    matched: bool = False,
) -> list[dict[str, Any]]:
    """The rows answering ``spec`` over stored ``documents`` (ids under ``_id``, as
    strings; ``matched``: all of them match ``spec.where`` already).  ``as_stored``
    makes a compiled predicate's values what compares with the documents' (the memory
    adapter: its values as its store decodes them, so an aware datetime compares with
    naive UTC ones)."""
    if spec.limit == 0:
        return []
    where = {} if matched else compile_filter(spec.where, frozenset(), row_value)
    having = compile_filter(spec.having, frozenset(), row_value)
    if as_stored is not None:
        where, having = as_stored(where), as_stored(having)
    rows: list[_Row] = [(doc, ()) for doc in documents if filter_applies(where, doc)]
    for step in spec.unwind:
        rows = [
            (row, (*indices, index))
            for doc, indices in rows
            for row, index in _unwind(doc, db_path(step.path), step.keep_empty)
        ]
    order = spec.row_order
    if order is not None:
        rows.sort(key=functools.cmp_to_key(functools.partial(_row_compare, order)))
    groups: dict[Any, tuple[list[Any], list[dict[str, Any]]]] = {}
    for doc, _ in rows:
        keys = [_null(_value(key, doc)) for _, key in spec.by]
        found = groups.setdefault(canonical(keys), (keys, []))
        found[1].append(doc)
    out = []
    for keys, members in groups.values():
        row = {name: value for (name, _), value in zip(spec.by, keys, strict=True)}
        for name, accumulator in spec.values:
            row[name] = _accumulate(accumulator, members)
        if filter_applies(having, row):
            out.append(row)
    sort_keys = [*((k.path, k.descending) for k in spec.order.keys)]
    sort_keys += [(name, False) for name, _ in spec.by if name not in dict(sort_keys)]
    out.sort(key=functools.cmp_to_key(lambda a, b: _group_compare(sort_keys, a, b)))
    end = None if spec.limit is None else spec.skip + spec.limit
    return out[spec.skip : end]


# -- rows ----------------------------------------------------------------------------------


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


def _with(doc: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``value`` at ``parts`` (MISSING: removed)."""
    copy = dict(doc)
    head, *rest = parts
    if rest:
        copy[head] = _with(doc[head], rest, value)
    elif value is MISSING:
        copy.pop(head, None)
    else:
        copy[head] = value
    return copy


def _unwind(
    doc: dict[str, Any], path: str, keep_empty: bool
) -> Iterable[tuple[dict[str, Any], int]]:
    value = _get(doc, path)
    parts = path.split(".")
    if isinstance(value, list) and value:
        for index, element in enumerate(value):
            yield _with(doc, parts, element), index
    elif isinstance(value, list):
        if keep_empty:
            yield _with(doc, parts, MISSING), 0
    elif value is MISSING or value is None:
        if keep_empty:
            yield doc, 0
    else:  # a single value unwinds to itself
        yield doc, 0


def _row_compare(order: Order, a: _Row, b: _Row) -> int:
    seen = set()
    for key in order.keys:
        path = db_path(key.path)
        seen.add(path)
        result = bson_compare(_get(a[0], path), _get(b[0], path))
        if result:
            return -result if key.descending else result
    if "_id" not in seen:
        result = bson_compare(_get(a[0], "_id"), _get(b[0], "_id"))
        if result:
            return result
    return (a[1] > b[1]) - (a[1] < b[1])


def _group_compare(keys: list[tuple[str, bool]], a: dict[str, Any], b: dict[str, Any]) -> int:
    for name, descending in keys:
        result = bson_compare(a.get(name), b.get(name))
        if result:
            return -result if descending else result
    return 0


# -- expressions -----------------------------------------------------------------------------


def _null(value: Any) -> Any:
    return None if value is MISSING else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(expression: Expr, doc: dict[str, Any]) -> Any:
    if isinstance(expression, Field):
        return _get(doc, db_path(expression.path))
    if isinstance(expression, Const):
        return expression.value
    if isinstance(expression, Arith):
        left, right = _value(expression.left, doc), _value(expression.right, doc)
        if left in (None, MISSING) or right in (None, MISSING):
            return None
        if not (_is_number(left) and _is_number(right)):
            raise UnsupportedSpec(f"{expression!r} needs numbers, got {left!r} and {right!r}")
        if expression.op == "/":
            return None if right == 0 else float(left) / float(right)
        result = {"+": left + right, "-": left - right, "*": left * right}[expression.op]
        return _int64_or_float(result)
    raise UnsupportedSpec(f"cannot evaluate the expression {expression!r}")


def _int64_or_float(value: int | float) -> int | float:
    """MongoDB turns an integer result beyond 64 bits into a double."""
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        return float(value)
    return value


# -- accumulators ----------------------------------------------------------------------------


def _accumulate(accumulator: Any, docs: list[dict[str, Any]]) -> Any:
    if isinstance(accumulator, Count):
        return len(docs)
    values = [_value(accumulator.of, doc) for doc in docs]
    if isinstance(accumulator, (Sum, Avg)):
        numbers = [v for v in values if _is_number(v)]
        if isinstance(accumulator, Avg):
            return _total(numbers) / len(numbers) if numbers else None
        return _total(numbers) if numbers else 0
    if isinstance(accumulator, (Min, Max)):
        present = [v for v in values if v is not MISSING and v is not None]
        if not present:
            return None
        sign = 1 if isinstance(accumulator, Min) else -1
        return functools.reduce(lambda a, b: b if sign * bson_compare(b, a) < 0 else a, present)
    if isinstance(accumulator, First):
        return _null(values[0])
    if isinstance(accumulator, Last):
        return _null(values[-1])
    if isinstance(accumulator, Push):
        return [v for v in values if v is not MISSING]
    if isinstance(accumulator, AddToSet):
        distinct: dict[Any, Any] = {}
        for v in values:
            if v is not MISSING:
                distinct.setdefault(canonical(v), v)
        return list(distinct.values())
    raise UnsupportedSpec(f"cannot evaluate the accumulator {accumulator!r}")


def _total(numbers: list[Any]) -> Any:
    """The sum as MongoDB computes it: exact for integers (a double beyond 64 bits),
    without intermediate rounding once a double is involved."""
    if all(isinstance(n, int) for n in numbers):
        return _int64_or_float(sum(numbers))
    return math.fsum(numbers)


# -- BSON equality ----------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A hashable form equal for values MongoDB groups together (1 and 1.0, not True)."""
    if value is None or value is MISSING:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("nan",) if value != value else ("number", value)
    if isinstance(value, dict):
        return ("object", tuple((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(canonical(v) for v in value))
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        return ("nan",) if number.is_nan() else ("number", number)
    return (type(value).__name__, value)
