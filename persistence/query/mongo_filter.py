"""Query specs compiled to MongoDB's query language (plain dicts, no driver needed).

Both adapters use it (through :mod:`persistence.query.plan`): the mongo adapter sends the
result to the server through the engine, the memory adapter evaluates it with
mongomock's matcher over the same stored documents.  So both give MongoDB's semantics
for the same spec.  ``ids`` is the set of entity paths holding ids (from the registry):
their values are stored as ObjectIds.  Keys come only from validated field paths and values only
from the spec's scalar values, so user input cannot turn into operators.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

from bson import ObjectId

from persistence.errors import UnsupportedSpec
from persistence.ids import is_valid_id
from persistence.specs import (
    And,
    ArrayContains,
    Changes,
    Compare,
    Exists,
    In,
    Matches,
    Not,
    Or,
    Order,
    Page,
    Predicate,
)

__all__ = [
    "compile_changes",
    "compile_filter",
    "compile_sort",
    "db_path",
    "keyset_filter",
    "merged_conditions",
    "stored_value",
]

IdPaths = Set[str]
_OPS = {"eq": None, "ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


def db_path(path: str) -> str:
    """The stored name of a field path (``id`` is ``_id``)."""
    return "_id" if path == "id" else path


def stored_value(path: str, value: Any, ids: IdPaths) -> Any:
    """``value`` (at entity path ``path``) as stored: an id as an ObjectId
    (``UnsupportedSpec`` if it cannot be one)."""
    if path not in ids or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [stored_value(path, v, ids) for v in value]
    if not is_valid_id(value):
        raise UnsupportedSpec(f"{path} holds ids (24 hex characters), not {value!r}")
    return ObjectId(value)


def compile_filter(
    predicate: Predicate, ids: IdPaths, value_of: Callable[[str, Any], Any] | None = None
) -> dict[str, Any]:
    """The MongoDB filter document for ``predicate`` (each compared value as
    ``value_of(path, value)`` makes it, by default :func:`stored_value`)."""
    if value_of is None:
        return _compiled(predicate, lambda path, value: stored_value(path, value, ids))
    return _compiled(predicate, value_of)


def _compiled(predicate: Predicate, value_of: Callable[[str, Any], Any]) -> dict[str, Any]:
    if isinstance(predicate, Compare):
        value = value_of(predicate.path, predicate.value)
        op = _OPS[predicate.op]
        return {db_path(predicate.path): value if op is None else {op: value}}
    if isinstance(predicate, In):
        values = [value_of(predicate.path, v) for v in predicate.values]
        return {db_path(predicate.path): {"$nin" if predicate.negate else "$in": values}}
    if isinstance(predicate, Matches):
        condition: dict[str, Any] = {"$regex": predicate.regex}
        if predicate.ignore_case:
            condition["$options"] = "i"
        return {db_path(predicate.path): condition}
    if isinstance(predicate, Exists):
        return {db_path(predicate.path): {"$exists": predicate.exists}}
    if isinstance(predicate, ArrayContains):
        value = value_of(predicate.path, predicate.value)
        return {db_path(predicate.path): {"$elemMatch": {"$eq": value}}}
    if isinstance(predicate, And):
        return merged_conditions([_compiled(item, value_of) for item in predicate.items])
    if isinstance(predicate, Or):
        return {"$or": [_compiled(item, value_of) for item in predicate.items]}
    if isinstance(predicate, Not):
        return {"$nor": [_compiled(predicate.item, value_of)]}
    raise UnsupportedSpec(f"cannot translate {predicate!r}")


def _operators(condition: Any) -> dict[str, Any]:
    """A field's condition as operators: ``{"$eq": v}`` for a plain value."""
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return condition
    return {"$eq": condition}


def merged_conditions(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The conjunction of filter documents ``parts`` as one flat document when no key
    repeats an operator (``{"age": {"$gte": 1, "$lt": 5}}``, which a server answers
    from an index on ``age``), else ``{"$and": parts}``; the same matches either way."""
    parts = [part for part in parts if part]
    if len(parts) <= 1:
        return parts[0] if parts else {}
    merged: dict[str, Any] = {}
    for part in parts:
        for key, condition in part.items():
            if key not in merged:
                merged[key] = condition
                continue
            if key.startswith("$"):  # two $or / $nor clauses
                return {"$and": parts}
            before, added = _operators(merged[key]), _operators(condition)
            if not before.keys().isdisjoint(added):
                return {"$and": parts}
            merged[key] = {**before, **added}
    return merged


def compile_sort(order: Order) -> list[tuple[str, int]]:
    """The sort specification, with ``_id`` as the last key."""
    return [(db_path(k.path), -1 if k.descending else 1) for k in order.with_id()]


def keyset_filter(
    order: Order, page: Page, ids: IdPaths, value_of: Callable[[str, Any], Any] | None = None
) -> dict[str, Any]:
    """The filter selecting what comes after ``page.after`` in ``order`` (BSON order);
    each value as ``value_of(path, value)`` makes it (by default :func:`stored_value`).

    In ascending order null sorts first, so "after null" is "not null"; in descending
    order null sorts last, so "after v" includes the nulls.
    """
    if page.after is None:
        return {}
    if value_of is None:
        value_of = lambda path, value: stored_value(path, value, ids)  # noqa: E731
    keys = order.with_id()
    if len(page.after) != len(keys):
        raise UnsupportedSpec(
            f"Page.after needs {len(keys)} values ({[k.path for k in keys]}), "
            f"got {len(page.after)}"
        )
    branches = []
    for i, key in enumerate(keys):
        ties = [
            {db_path(k.path): value_of(k.path, v)}
            for k, v in zip(keys[:i], page.after[:i], strict=True)
        ]
        value = value_of(key.path, page.after[i])
        path = db_path(key.path)
        if key.descending:
            if value is None:
                continue  # nothing sorts after null in descending order
            beyond: dict[str, Any] = {"$or": [{path: {"$lt": value}}, {path: None}]}
        else:
            beyond = {path: {"$ne": None}} if value is None else {path: {"$gt": value}}
        branches.append({"$and": [*ties, beyond]} if ties else beyond)
    return {"$or": branches} if branches else {"_id": {"$exists": False}}


def compile_changes(
    changes: Changes, ids: IdPaths, value_of: Callable[[str, Any], Any] | None = None
) -> dict[str, Any]:
    """The MongoDB update document for ``changes``; each value as ``value_of(path,
    value)`` makes it (by default :func:`stored_value`)."""
    if value_of is None:
        value_of = lambda path, value: stored_value(path, value, ids)  # noqa: E731
    if not changes.items:
        raise UnsupportedSpec("an empty change set")
    update: dict[str, dict[str, Any]] = {}
    operator = {"set": "$set", "unset": "$unset", "inc": "$inc", "push": "$push", "pull": "$pull"}
    for change in changes.items:
        value: Any = "" if change.op == "unset" else value_of(change.path, change.value)
        update.setdefault(operator[change.op], {})[db_path(change.path)] = value
    return update
