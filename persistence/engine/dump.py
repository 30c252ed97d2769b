"""``Document.to_mongo()`` for the native writes, without the per-field introspection.

MongoEngine's ``to_mongo`` looks up each field's ``to_mongo`` signature for every value
of every document.  :func:`to_mongo` produces exactly the same SON (same keys, order and
values) from a plan computed once per class: for the common field types whose
``to_mongo`` returns a value of an exact type unchanged (strings, numbers, booleans,
datetimes, ObjectIds, and lists of those) it keeps the value (a list is copied, as
MongoEngine's list conversion builds a new list); every other value goes through the
field's own ``to_mongo`` with the arguments MongoEngine passes.  Classes that override
``to_mongo`` or ``__iter__``, dynamic documents and fields that generate their value
(``SequenceField``) use MongoEngine's own method.  Only the native ``async_`` writes call
it; ``tests/engine/test_dump.py`` compares it with ``to_mongo()`` over every field type.
"""

from __future__ import annotations

import datetime
from typing import Any

from bson import ObjectId
from bson.son import SON
from mongoengine.base.datastructures import BaseList
from mongoengine.document import Document
from mongoengine.fields import (
    BooleanField,
    DateTimeField,
    EmailField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
    URLField,
)

__all__ = ["plan_of", "to_mongo"]

# Exact field classes whose ``to_mongo`` returns a value of these exact types unchanged.
_KEPT: dict[type, tuple[type, ...]] = {
    StringField: (str,),
    EmailField: (str,),
    URLField: (str,),
    IntField: (int,),
    FloatField: (float,),
    BooleanField: (bool,),
    DateTimeField: (datetime.datetime,),
    ObjectIdField: (ObjectId,),
}
_LISTS = (list, BaseList)

_SIMPLE, _LIST, _FIELD = 0, 1, 2


class _Plan:
    __slots__ = ("class_name", "entries", "keeps_cls")

    def __init__(self, cls: Any) -> None:
        self.class_name = cls._class_name
        self.keeps_cls = bool(cls._meta.get("allow_inheritance"))
        # (name, field, db field, kind, kept types, extra keyword arguments)
        self.entries: list[tuple[str, Any, str, int, Any, dict[str, Any]]] = []
        for name in cls._fields_ordered:
            field = cls._fields[name]
            kind, kept = _FIELD, None
            if type(field) in _KEPT:
                kind, kept = _SIMPLE, _KEPT[type(field)]
            elif type(field) is ListField and type(field.field) in _KEPT:
                kind, kept = _LIST, _KEPT[type(field.field)]
            inputs = field.to_mongo.__code__.co_varnames
            extra = {"use_db_field": True} if "use_db_field" in inputs else {}
            self.entries.append((name, field, field.db_field, kind, kept, extra))


_plans: dict[type, _Plan | None] = {}


def _from_mongoengine(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__.startswith("mongoengine.")
    return True


def _eligible(cls: Any) -> bool:
    if not (isinstance(cls, type) and issubclass(cls, Document)):
        return False
    klass: Any = cls
    return (
        not klass._dynamic
        and _from_mongoengine(klass, "to_mongo")
        and _from_mongoengine(klass, "__iter__")
        and not any(field._auto_gen for field in klass._fields.values())
        and list(klass._fields_ordered) == list(dict.fromkeys(klass._fields_ordered))
        and set(klass._fields_ordered) == set(klass._fields)
    )


def plan_of(cls: Any) -> _Plan | None:
    """The cached plan of ``cls``, or None when its documents need ``to_mongo()``."""
    try:
        return _plans[cls]
    except KeyError:
        plan = _plans[cls] = _Plan(cls) if _eligible(cls) else None
        return plan


def to_mongo(document: Any) -> Any:
    """``document.to_mongo()`` (no arguments), from the class's plan."""
    plan = plan_of(type(document))
    if plan is None:
        return document.to_mongo()
    data: Any = SON()
    data["_id"] = None
    data["_cls"] = plan.class_name
    values = document._data
    for name, field, db_field, kind, kept, extra in plan.entries:
        value = values.get(name)
        if value is not None:
            if kind == _SIMPLE and type(value) in kept:
                pass
            elif kind == _LIST and type(value) in _LISTS and _all_kept(value, kept):
                value = list(value)
            else:
                value = field.to_mongo(value, **extra)
        if value is not None or field.null:
            data[db_field] = value
    if not plan.keeps_cls:
        data.pop("_cls")
    if data["_id"] is None:  # as Document.to_mongo
        if values.get("id") is None:
            del data["_id"]
        else:
            data["_id"] = values["id"]
    return data


def _all_kept(items: Any, kept: tuple[type, ...]) -> bool:
    for item in items:
        if type(item) not in kept:
            return False
    return True
