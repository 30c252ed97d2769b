"""Spec values checked against the declared type of their field, before any query.

MongoDB compares values of different BSON types as unequal and orders them by type, so
``F("created_at") > "2020-01-01"`` or ``F("stock") >= "5"`` silently match nothing.  The
:class:`~persistence.query.plan.QueryPlanner` refuses such a value with ``InvalidSpec``
instead, on every adapter.  Which fields hold ids comes from the registry's declarations
(``id_paths``); the other kinds from the Document's fields (:mod:`persistence.schema`).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Set
from typing import Any

from persistence.errors import InvalidSpec
from persistence.ids import is_valid_id
from persistence.schema import FieldType, Schema
from persistence.specs import (
    And,
    ArrayContains,
    Compare,
    Exists,
    In,
    Matches,
    Not,
    Or,
    Predicate,
)

__all__ = ["check_value", "check_values"]

_EXPECTED = {
    "number": "numbers",
    "string": "strings",
    "bool": "booleans",
    "date": "datetimes (or dates)",
    "id": "ids (24 hex characters)",
    "object": "embedded documents (compare one of their fields)",
}


def check_values(predicate: Predicate, schema: Schema, ids: Set[str], entity: str) -> None:
    """``InvalidSpec`` for the first value of ``predicate`` its field cannot hold."""
    if isinstance(predicate, (And, Or)):
        for item in predicate.items:
            check_values(item, schema, ids, entity)
    elif isinstance(predicate, Not):
        check_values(predicate.item, schema, ids, entity)
    elif isinstance(predicate, (Compare, ArrayContains)):
        check_value(predicate.path, predicate.value, schema, ids, entity)
    elif isinstance(predicate, In):
        for value in predicate.values:
            check_value(predicate.path, value, schema, ids, entity)
    elif isinstance(predicate, Matches):
        kind = _type_kind(predicate.path, schema, ids)
        if kind not in ("string", "any"):
            raise InvalidSpec(entity, predicate.path, predicate.pattern, _EXPECTED[kind])
    elif not isinstance(predicate, Exists):  # pragma: no cover - field_paths refused it
        raise TypeError(f"not a predicate: {predicate!r}")


_ID = FieldType("id")
_ANY = FieldType("any")


def _type(path: str, schema: Schema, ids: Set[str]) -> FieldType:
    if path in ids:
        return _ID
    found: FieldType | None = schema(path)
    while found is not None and found.is_array:  # an array matches by its elements
        found = found.element
    return _ANY if found is None else found


def _type_kind(path: str, schema: Schema, ids: Set[str]) -> str:
    return _type(path, schema, ids).kind


def check_value(path: str, value: Any, schema: Schema, ids: Set[str], entity: str) -> None:
    """``InvalidSpec`` unless the field at ``path`` can hold ``value``."""
    if value is None:
        return
    found = _type(path, schema, ids)
    if found.kind == "any" or _fits(found, value):
        return
    expected = _EXPECTED[found.kind]
    if found.kind == "number":
        expected = "numbers (int, float or Decimal)" if found.decimal else "numbers (int or float)"
    raise InvalidSpec(entity, path, value, expected)


def _fits(found: FieldType, value: Any) -> bool:
    kind = found.kind
    if kind == "number":
        if isinstance(value, decimal.Decimal):
            return found.decimal
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, datetime.date)  # a datetime, or a date (its midnight)
    if kind == "id":
        return is_valid_id(value)
    return False  # an embedded document is never equal to a scalar
