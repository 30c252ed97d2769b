"""Spec values checked against the declared type of their field, before any query.

MongoDB compares values of different BSON types as unequal and orders them by type, so
``F("created_at") > "2020-01-01"`` or ``F("stock") >= "5"`` silently match nothing.  The
:class:`~adapters.query_plan.QueryPlanner` refuses such a value with ``InvalidSpec``
instead, on every adapter.  Which fields hold ids comes from the registry's declarations
(``id_paths``); the other kinds from the Document's fields (:mod:`domain.schema`).
"""

from __future__ import annotations

import datetime
from collections.abc import Set
from typing import Any

from domain.errors import InvalidSpec
from domain.ids import is_valid_id
from domain.schema import FieldType, Schema
from domain.specs import (
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
    "date": "datetimes",
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
        kind = _kind(predicate.path, schema, ids)
        if kind not in ("string", "any"):
            raise InvalidSpec(entity, predicate.path, predicate.pattern, _EXPECTED[kind])
    elif not isinstance(predicate, Exists):  # pragma: no cover - field_paths refused it
        raise TypeError(f"not a predicate: {predicate!r}")


def _kind(path: str, schema: Schema, ids: Set[str]) -> str:
    if path in ids:
        return "id"
    found: FieldType | None = schema(path)
    while found is not None and found.is_array:  # an array matches by its elements
        found = found.element
    return "any" if found is None else found.kind


def check_value(path: str, value: Any, schema: Schema, ids: Set[str], entity: str) -> None:
    """``InvalidSpec`` unless the field at ``path`` can hold ``value``."""
    if value is None:
        return
    kind = _kind(path, schema, ids)
    if kind == "any" or _fits(kind, value):
        return
    raise InvalidSpec(entity, path, value, _EXPECTED[kind])


def _fits(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, datetime.datetime)
    if kind == "id":
        return is_valid_id(value)
    return False  # an embedded document is never equal to a scalar
