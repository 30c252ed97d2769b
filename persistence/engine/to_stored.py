"""Serialising Document instances to SON without MongoEngine's per-field introspection.

:func:`to_mongo` returns exactly what ``doc.to_mongo()`` returns (MongoEngine 0.29.3:
``Document.to_mongo``/``EmbeddedDocument.to_mongo`` over ``BaseDocument.to_mongo``): the
same keys in the same order (``_id`` first when set, ``_cls`` second when the class
allows inheritance), the same values of the same types, a ``SON`` at every level where
MongoEngine makes one.  ``BaseDocument.to_mongo`` inspects every field's ``to_mongo``
signature on every call and builds its ``SON`` key by key; here a plan computed once
per class records, per field in ``_fields_ordered``: its db field, whether its
``to_mongo`` takes ``use_db_field``/``fields``, and for the common kinds the value types
on which its conversion is the identity (strings, ints, floats, booleans, ObjectIds,
datetimes and lists of those), or that it holds embedded documents whose own
serialisation takes the plan too.  Every other value goes through the field's own
``to_mongo`` called exactly as MongoEngine calls it (including ``SequenceField``
generation), so user field subclasses with their own ``to_mongo`` keep it.

MongoEngine's own method serialises what the plan does not cover: dynamic documents,
classes with their own ``__iter__``/``__getattribute__``, a ``to_mongo`` between the
class and MongoEngine's (for :func:`to_mongo`: the class's override is called),
``use_db_field=False``, and fields whose ``to_mongo`` MongoEngine could not introspect.

The graft routes ``Document.to_mongo`` here for classes on async aliases (see
:func:`to_mongo_wrapper`); sync MongoEngine on sync aliases keeps its own path.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from bson.son import SON
from mongoengine.base.datastructures import BaseDict, BaseList, EmbeddedDocumentList
from mongoengine.base.document import BaseDocument
from mongoengine.base.fields import BaseField, ComplexBaseField, ObjectIdField
from mongoengine.document import Document, EmbeddedDocument
from mongoengine.fields import (
    BooleanField,
    DateTimeField,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    StringField,
)

from . import checked, compat
from .aliases import any_async
from .class_collections import is_async_class

__all__ = ["plan_for", "to_mongo", "to_mongo_wrapper"]

_BASE_TO_MONGO = BaseField.to_mongo
_BASE_TO_PYTHON = BaseField.to_python
_SAFE_CALL = getattr(BaseField, compat.TO_MONGO_SAFE_CALL)
_SON_KEYS = compat.SON_KEYS
_COMPLEX_TO_MONGO = ComplexBaseField.to_mongo
_EMBEDDED_TO_MONGO = EmbeddedDocumentField.to_mongo

# ``to_python`` functions that return a value of these exact types unchanged (for fields
# whose ``to_mongo`` is BaseField's, i.e. ``to_python``), and ``to_mongo`` functions that
# return a value of these exact types unchanged.
_IDENTITY_TO_PYTHON: dict[Callable[..., Any], tuple[type, ...]] = {
    StringField.to_python: (str,),
    IntField.to_python: (int,),
    FloatField.to_python: (float,),
    BooleanField.to_python: (bool,),
}
_IDENTITY_TO_MONGO: dict[Callable[..., Any], tuple[type, ...]] = {
    ObjectIdField.to_mongo: (ObjectId,),
    DateTimeField.to_mongo: (datetime.datetime,),
}
_LISTS = (list, BaseList, EmbeddedDocumentList)
_new_son = dict.__new__  # an empty SON; its key list is set from the finished dict

_DICTS = (dict, BaseDict)

# How a present value is converted (the kinds from _LIST on are ComplexBaseField's).
_GENERIC, _IDENTITY, _ANY, _EMBEDDED, _LIST, _LIST_EMBEDDED, _COMPLEX = range(7)


def _identity_types(field: Any) -> tuple[type, ...] | None:
    """The exact value types ``field.to_mongo`` returns unchanged, or None; ``()`` when
    it returns every value unchanged (BaseField's ``to_mongo`` and ``to_python``)."""
    if "to_mongo" in vars(field) or "to_python" in vars(field):
        return None
    kind = type(field)
    if kind.to_mongo is _BASE_TO_MONGO:
        if kind.to_python is _BASE_TO_PYTHON:
            return ()
        return _IDENTITY_TO_PYTHON.get(kind.to_python)
    return _IDENTITY_TO_MONGO.get(kind.to_mongo)


def _unless_instance_overrides(field: Any, name: str) -> Any:
    """The class attribute ``name`` of ``field``, or None when the instance overrides it."""
    return None if name in vars(field) else getattr(type(field), name)


def _complex_kind(field: Any) -> tuple[int, Any]:
    """The plan kind of a list, dict or map field: lists whose items convert cheaply,
    else _COMPLEX (empty values are cheap: ComplexBaseField.to_mongo makes a new empty
    list or dict) or _GENERIC (a to_mongo of its own)."""
    if _unless_instance_overrides(field, "to_mongo") is not _COMPLEX_TO_MONGO:
        return _GENERIC, None
    inner = field.field
    if inner is None:
        return _COMPLEX, None
    if _unless_instance_overrides(inner, compat.TO_MONGO_SAFE_CALL) is not _SAFE_CALL:
        return _COMPLEX, None
    types = _identity_types(inner)
    if types:
        return _LIST, types
    if _unless_instance_overrides(inner, "to_mongo") is _EMBEDDED_TO_MONGO:
        return _LIST_EMBEDDED, inner
    return _COMPLEX, None


def _serialise_kind(field: Any) -> tuple[int, Any]:
    if isinstance(field, ComplexBaseField):
        return _complex_kind(field)
    types = _identity_types(field)
    if types == ():
        return _ANY, None
    if types is not None:
        return _IDENTITY, types
    if _unless_instance_overrides(field, "to_mongo") is _EMBEDDED_TO_MONGO:
        return _EMBEDDED, None
    return _GENERIC, None


class _SerialisePlan:
    """What :func:`to_mongo` needs to know about one Document class."""

    __slots__ = ("class_name", "cls", "embedded", "entries", "fields_ordered", "inherits")

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.class_name = compat.class_name(cls)
        self.embedded = issubclass(cls, EmbeddedDocument)
        self.inherits = bool(compat.meta(cls).get("allow_inheritance"))
        self.fields_ordered = compat.fields_ordered(cls)
        # (name, db_field, field, kind, extra, auto_gen, takes use_db_field, takes
        #  fields), in the order BaseDocument.to_mongo walks them
        self.entries: list[tuple[Any, ...]] = []
        for name in compat.fields_ordered(cls):
            field = compat.fields(cls)[name]
            inputs = field.to_mongo.__code__.co_varnames  # as BaseDocument.to_mongo reads it
            kind, extra = _serialise_kind(field)
            self.entries.append(
                (
                    name,
                    field.db_field,
                    field,
                    kind,
                    extra,
                    compat.auto_gen(field),
                    "use_db_field" in inputs,
                    "fields" in inputs,
                )
            )


def _to_mongo_definers(cls: Any) -> list[type]:
    return [k for k in cls.__mro__ if "to_mongo" in vars(k)]


def _eligible(cls: Any) -> bool:
    """True when MongoEngine's ``to_mongo`` of ``cls`` (from Document's or
    EmbeddedDocument's on) is what the plan reproduces."""
    definers = _to_mongo_definers(cls)
    stock = Document if issubclass(cls, Document) else EmbeddedDocument
    if stock not in definers or definers[definers.index(stock) :] != [stock, BaseDocument]:
        return False
    if compat.is_dynamic(cls) or cls.__iter__ is not BaseDocument.__iter__:
        return False
    if cls.__getattribute__ is not object.__getattribute__:
        return False
    return all(name in compat.fields(cls) for name in compat.fields_ordered(cls))


_serialise_plans: dict[type, _SerialisePlan | None] = {}


def plan_for(cls: Any) -> _SerialisePlan | None:
    """The cached plan of ``cls``, or None when MongoEngine's ``to_mongo`` must run."""
    try:
        return _serialise_plans[cls]
    except KeyError:
        try:
            plan = _SerialisePlan(cls) if _eligible(cls) else None
        except (AttributeError, KeyError):  # a to_mongo without __code__, ...
            plan = None
        _serialise_plans[cls] = plan
        return plan


def to_mongo(doc: Any) -> SON[str, Any]:
    """``doc.to_mongo()``: the same SON, built from the class's plan where it applies."""
    cls = type(doc)
    method = cls.to_mongo  # MongoEngine's own (grafted or not), or an override
    if method is Document.to_mongo or method is EmbeddedDocument.to_mongo:
        plan = _serialise_plans.get(cls) or plan_for(cls)
        if plan is not None and compat.fields_ordered(doc) is plan.fields_ordered:
            return _dump(doc, plan, None)
    return doc.to_mongo()  # type: ignore[no-any-return]


def _dump(doc: Any, plan: _SerialisePlan, fields: list[str] | None) -> SON[str, Any]:
    """What ``Document.to_mongo(doc, fields=fields)`` (or EmbeddedDocument's) returns."""
    data: dict[str, Any] = {"_id": None, "_cls": plan.class_name}
    values = compat.data(doc)
    root = {f.split(".")[0] for f in fields} if fields else None
    for name, db_field, field, kind, extra, auto_gen, use_db, takes_fields in plan.entries:
        if root is not None and name not in root:
            continue
        value = values.get(name)
        if value is not None:
            inner_fields = None
            if root is not None and takes_fields:
                key = name + "."
                inner_fields = [f.replace(key, "") for f in fields if f.startswith(key)]  # type: ignore[union-attr]
            if kind == _ANY:
                pass
            elif kind == _IDENTITY:
                if type(value) not in extra:
                    value = _generic(field, value, use_db, inner_fields)
            elif kind == _EMBEDDED:
                value = _embedded(field, value, inner_fields)
            elif kind >= _LIST and type(value) in _LISTS:  # list, dict and map fields
                if kind == _LIST:
                    items = list.copy(value)
                    for item in items:
                        if type(item) not in extra:
                            value = _generic(field, value, use_db, inner_fields)
                            break
                    else:
                        value = items
                elif kind == _LIST_EMBEDDED:
                    value = [_embedded(extra, item, inner_fields) for item in list.copy(value)]
                elif value:
                    value = _generic(field, value, use_db, inner_fields)
                else:
                    value = []
            elif kind >= _LIST and not value and type(value) in _DICTS:
                value = {}
            else:
                value = _generic(field, value, use_db, inner_fields)
        if value is None and auto_gen:
            value = field.generate()
            values[name] = value
        if value is not None or field.null:
            data[db_field] = value
    if not plan.inherits:
        del data["_cls"]
    if data["_id"] is None:
        if plan.embedded:
            del data["_id"]
        else:
            own_id = values.get("id")
            if own_id is None:
                del data["_id"]
            else:
                data["_id"] = own_id
    son: SON[str, Any] = _new_son(SON)
    dict.update(son, data)
    setattr(son, _SON_KEYS, list(data))
    return son


def _generic(field: Any, value: Any, use_db: bool, inner_fields: list[str] | None) -> Any:
    """``field.to_mongo(value, ...)`` with the keywords BaseDocument.to_mongo passes
    (``inner_fields``: the embedded paths of a ``fields`` selection, when it takes them)."""
    if inner_fields is not None:
        if use_db:
            return field.to_mongo(value, fields=inner_fields, use_db_field=True)
        return field.to_mongo(value, fields=inner_fields)
    if use_db:
        return field.to_mongo(value, use_db_field=True)
    return field.to_mongo(value)


def _embedded(field: Any, value: Any, fields: list[str] | None) -> Any:
    """``EmbeddedDocumentField.to_mongo(value, True, fields)``."""
    document_type = field.document_type
    if not isinstance(value, document_type):
        return value
    if document_type.to_mongo is EmbeddedDocument.to_mongo:
        cls = type(value)
        plan = _serialise_plans.get(cls) or plan_for(cls)
        if plan is not None and compat.fields_ordered(value) is plan.fields_ordered:
            return _dump(value, plan, fields)
    return document_type.to_mongo(value, True, fields)


def to_mongo_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Document.to_mongo`` for the graft: the plan for classes on async aliases (with
    ``use_db_field`` true), MongoEngine's own method for everything else."""

    global _document_to_mongo
    _document_to_mongo = original

    def to_mongo(self: Any, *args: Any, **kwargs: Any) -> Any:
        cls = type(self)
        if any_async() and is_async_class(cls):
            fields = _fields_argument(args, kwargs)
            if fields is not _UNSUPPORTED:
                plan = _serialise_plans.get(cls) or plan_for(cls)
                if plan is not None and compat.fields_ordered(self) is plan.fields_ordered:
                    return _dump(self, plan, fields)
        return original(self, *args, **kwargs)

    to_mongo.__wrapped__ = original  # type: ignore[attr-defined]
    to_mongo.__doc__ = original.__doc__
    to_mongo.__name__ = original.__name__
    to_mongo.__qualname__ = original.__qualname__
    return to_mongo


_UNSUPPORTED: Any = object()


def _fields_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``fields`` of ``to_mongo(use_db_field=True, fields=None)`` arguments, or
    ``_UNSUPPORTED`` (``use_db_field`` false, unknown keywords)."""
    if not args and not kwargs:
        return None
    try:
        bound = _bind(*args, **kwargs)
    except TypeError:
        return _UNSUPPORTED
    use_db_field, fields = bound
    if not use_db_field:
        return _UNSUPPORTED
    return fields or None


def _bind(use_db_field: Any = True, fields: Any = None) -> tuple[Any, Any]:
    return use_db_field, fields


_document_to_mongo: Callable[..., Any] = Document.to_mongo  # MongoEngine's (set by the graft)


def _reference_dump(doc: Any, plan: _SerialisePlan, fields: list[str] | None) -> SON[str, Any]:
    """MongoEngine's own ``to_mongo`` for what :func:`_dump` stands in for."""
    method = EmbeddedDocument.to_mongo if plan.embedded else _document_to_mongo
    return method(doc, True, fields)  # type: ignore[no-any-return]


def _checked_dump(doc: Any, plan: _SerialisePlan, fields: list[str] | None) -> SON[str, Any]:
    """:func:`_dump` in checked mode: MongoEngine's ``to_mongo`` of the same document
    runs after it and both must give the same SON."""
    if checked.in_reference():
        return _reference_dump(doc, plan, fields)
    fast = checked.run(_fast_dump, doc, plan, fields)
    with checked.reference():
        ref = checked.run(_reference_dump, doc, plan, fields)
    checked.compare("to_stored.to_mongo", type(doc), fast, ref)
    return fast.unwrap()  # type: ignore[no-any-return]


_fast_dump = _dump
if checked.ENABLED:
    _dump = _checked_dump
