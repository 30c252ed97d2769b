"""Entities read straight from stored documents whose fields need no conversion.

``DocumentMapper.from_son`` builds a Document from a stored document and maps it to the
entity.  For the common shape (every entity field stored by a plain MongoEngine field:
strings, integers, floats, booleans, ObjectIds, references stored as ObjectIds, lists of
plain values) each value MongoEngine would load is the stored value itself (an id becomes
its hex string), so :func:`direct_values` reads the entity's values from the stored
document directly.  Which classes and fields qualify is decided by the engine's loading
rules (:mod:`persistence.engine.plain_classes`, the ones the materialising fast path
uses): a field class overriding ``to_python``, ``__set__`` or ``__get__``, a class
overriding ``__init__`` or ``_from_son`` anywhere in its MRO, dynamic documents, a
connected ``pre_init``/``post_init`` receiver, a value of another type than its field
keeps, an undeclared key, a subclass's document: each answers None, and the mapper takes
the Document's way.  ``tests/unit/test_stored_entities.py`` checks both ways agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bson import DBRef, ObjectId
from mongoengine import fields

from persistence.codec import PLAIN_SCALARS
from persistence.engine import compat
from persistence.engine.plain_classes import (
    LOAD_HOOKS,
    init_receivers,
    loads_list_unchanged,
    loads_plainly,
    loads_unchanged,
    same_hooks,
)

__all__ = ["DirectPlan", "direct_plan", "direct_values"]

_SAME = 0  # the stored value, of the exact type its field keeps
_ID = 1  # an ObjectId (or a DBRef of one): its hex string
_LIST = 2  # a list of values of the exact type its item field keeps

_ENTITY_TYPES = frozenset({(str,), (int,), (float,), (bool,)})  # kept by entities as is
_UNREADABLE = object()  # a default the plan does not read as MongoEngine would


def _read_step(field: Any) -> tuple[int, Any] | None:
    """How an entity value is read from what ``field`` stores, by the engine's loading
    rules (:mod:`persistence.engine.plain_classes`: the field's ``to_python``,
    ``__set__`` and ``__get__`` are MongoEngine's own), or None."""
    kept = loads_unchanged(field)
    if kept in _ENTITY_TYPES:
        return _SAME, kept[0]
    if kept == (ObjectId,) or same_hooks(field, fields.ReferenceField, LOAD_HOOKS):
        return _ID, None
    kept = loads_list_unchanged(field)
    if kept in _ENTITY_TYPES:
        return _LIST, kept[0]
    return None


def _default(field: Any) -> Any:
    """What a loaded document holds for ``field`` when nothing (or None) is stored:
    None for a nullable field, else its default as plain values (as the mapper's
    ``plain`` turns it), or :data:`_UNREADABLE`."""
    if field.null:
        return None
    value = field.default
    if callable(value):
        return value  # called per document: a fresh value each time
    if type(value) in PLAIN_SCALARS:
        return value
    return _UNREADABLE


def _fresh(default: Any) -> Any:
    value = default()
    if type(value) in PLAIN_SCALARS:
        return value
    if type(value) is list and all(type(item) in PLAIN_SCALARS for item in value):
        return list(value)
    if type(value) is ObjectId:
        return str(value)
    return _UNREADABLE


DirectPlan = tuple[
    tuple[tuple[str, str, int, Any, Any], ...],  # name, stored key, kind, type, default
    frozenset[str],  # every key a stored document may have
    str | None,  # the class name stored in _cls, if the class allows inheritance
    bool,  # every field stored under its own name
]


def direct_plan(document_cls: Any, names: Iterable[str]) -> DirectPlan | None:
    """The plan reading entity fields ``names`` from ``document_cls``'s stored
    documents, or None when one of them needs the Document's own conversion."""
    meta = compat.meta(document_cls)
    if meta.get("abstract") or not loads_plainly(document_cls):
        return None
    declared = compat.fields(document_cls)
    steps = []
    for name in names:
        field = declared.get(name)
        step = None if field is None else _read_step(field)
        if step is None:
            return None
        default = _default(field)
        if default is _UNREADABLE:
            return None
        steps.append((name, field.db_field, step[0], step[1], default))
    keys = frozenset(f.db_field for f in declared.values()) | {"_id", "_cls"}
    class_name = compat.class_name(document_cls) if meta.get("allow_inheritance") else None
    as_named = all(name == key for name, key, *_ in steps)
    return tuple(steps), keys, class_name, as_named


def direct_values(plan: DirectPlan, son: dict[str, Any]) -> dict[str, Any] | None:
    """The entity's values (``id`` included) read from ``son``, or None when ``son``
    holds something the plan does not read as MongoEngine would."""
    steps, keys, class_name, _ = plan
    if not keys.issuperset(son) or init_receivers():  # receivers: the Document's way
        return None
    stored_class = son.get("_cls")
    if stored_class is not None and stored_class != class_name:
        return None
    oid = son.get("_id")
    if type(oid) is not ObjectId:
        return None
    values: dict[str, Any] = {"id": str(oid)}
    for name, key, kind, kept, default in steps:
        value = son.get(key)
        if value is None:  # as MongoEngine sets a missing or null value: the default
            if callable(default):
                default = _fresh(default)
                if default is _UNREADABLE:
                    return None
            values[name] = default
        elif kind == _SAME:
            if type(value) is not kept:
                return None
            values[name] = value
        elif kind == _ID:
            if type(value) is DBRef:
                value = value.id
            if type(value) is not ObjectId:
                return None
            values[name] = str(value)
        else:
            if type(value) is not list or any(type(item) is not kept for item in value):
                return None
            values[name] = list(value)
    return values
