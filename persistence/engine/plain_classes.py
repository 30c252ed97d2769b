"""Which runtime classes the engine's fast paths may handle themselves: one set of rules.

A fast path (materialising, direct entity reads, native writes) reproduces what
MongoEngine does for classes whose hooks are MongoEngine's own.  Every rule here is asked
about the class actually met at run time (the stored ``_cls``, the embedded document
actually held by a field, each document of an insert, the instance itself), never only
about the class a field declares; anything else takes MongoEngine's own code.

Loading (``_from_son``): a class loads plainly when nothing between it and MongoEngine
overrides ``__init__``, ``__new__``, ``__setattr__`` or ``_from_son``, and it is neither
dynamic nor STRICT; a field keeps a value of type T unchanged when its ``to_python``,
``__set__`` and ``__get__`` are those of a MongoEngine field known to keep T
(:func:`loads_unchanged`).  ``pre_init``/``post_init`` receivers are checked per call.

Writing (``save``/``insert``/``update``/``delete``): a document writes plainly when its
class and every embedded document it holds inherit from MongoEngine the methods the
writes call, its fields only configure MongoEngine's (no ``FileField`` or
``SequenceField``, which do I/O; no ``validation=`` callables), and the instance does not
override one of those methods itself (:func:`writes_plainly`).
"""

from __future__ import annotations

import datetime
import inspect
from typing import Any

from bson import DBRef, ObjectId
from mongoengine import signals
from mongoengine.base.document import BaseDocument
from mongoengine.base.fields import ComplexBaseField
from mongoengine.document import Document, EmbeddedDocument
from mongoengine.fields import (
    BooleanField,
    CachedReferenceField,
    DateTimeField,
    DynamicField,
    EmbeddedDocumentField,
    FileField,
    FloatField,
    GenericEmbeddedDocumentField,
    IntField,
    ListField,
    LongField,
    ObjectIdField,
    SequenceField,
    StringField,
)
from mongoengine.queryset.queryset import QuerySet

from . import compat

__all__ = [
    "DOCUMENT_METHODS",
    "from_mongoengine",
    "init_receivers",
    "loads_plainly",
    "loads_unchanged",
    "plain_value",
    "same_hooks",
    "writes_plainly",
]


def from_mongoengine(cls: type, name: str) -> bool:
    """True when ``cls`` inherits ``name`` from MongoEngine itself (no user override)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__.startswith("mongoengine.")
    return True


def same_hooks(field: Any, base: type, names: tuple[str, ...]) -> bool:
    """True when ``field`` (an instance of ``base``) runs ``base``'s ``names``: neither
    its class nor the instance itself replaces one of them."""
    kind = type(field)
    return (
        isinstance(field, base)
        and all(getattr(kind, name) is getattr(base, name) for name in names)
        and not any(name in vars(field) for name in names)
    )


# -- loading ---------------------------------------------------------------------------

LOAD_HOOKS = ("to_python", "__set__", "__get__")

# MongoEngine's fields whose loading returns a value of these exact types unchanged.
_KEEPS: dict[type, tuple[type, ...]] = {
    StringField: (str,),
    IntField: (int,),
    LongField: (int,),
    FloatField: (float,),
    BooleanField: (bool,),
    DateTimeField: (datetime.datetime,),
    ObjectIdField: (ObjectId,),
}


def loads_unchanged(field: Any) -> tuple[type, ...] | None:
    """The exact value types ``field`` loads unchanged (``to_python`` returns them as
    they are, ``__set__``/``__get__`` only store and read them), or None."""
    for base, kept in _KEEPS.items():
        if same_hooks(field, base, LOAD_HOOKS):
            return kept
    return None


def loads_list_unchanged(field: Any) -> tuple[type, ...] | None:
    """For a list field loaded as MongoEngine's ``ListField``: the exact item types it
    loads unchanged (a plain list of them), or None."""
    if not same_hooks(field, ListField, LOAD_HOOKS) or field.field is None:
        return None
    return loads_unchanged(field.field)


def loads_embedded(field: Any) -> bool:
    """True when ``field`` loads as MongoEngine's ``EmbeddedDocumentField``."""
    return same_hooks(field, EmbeddedDocumentField, LOAD_HOOKS)


def loads_plainly(cls: Any) -> bool:
    """True when ``_from_son`` of ``cls`` is field conversion plus ``__init__``'s
    assignments and nothing else (see the module docstring)."""
    return (
        not compat.is_dynamic(cls)
        and not cls.STRICT
        and cls.__init__ in (BaseDocument.__init__, EmbeddedDocument.__init__)
        and cls.__setattr__ is BaseDocument.__setattr__
        and cls.__new__ is object.__new__
        and not compat.loads_itself(cls)
    )


def init_receivers() -> bool:
    """True when a ``pre_init`` or ``post_init`` receiver is connected (then loading
    sends signals someone hears: MongoEngine's path)."""
    return bool(signals.pre_init.receivers or signals.post_init.receivers)


# -- writing ----------------------------------------------------------------------------

#: The Document methods the native writes stand in for or call.
DOCUMENT_METHODS = compat.DOCUMENT_WRITE_METHODS
#: The embedded document methods writes call.
EMBEDDED_METHODS = frozenset({"validate", "clean", "to_mongo"})
_QUERYSET_METHODS = (
    "update", "update_one", "delete", "filter", "__call__", "clone", compat.QUERY_METHOD
)  # fmt: skip
_IO_FIELDS = (FileField, SequenceField)  # they delete a file / read a counter (I/O)

_CONFIGURATION = frozenset(
    {"__init__", "__module__", "__qualname__", "__doc__", "__annotations__", "__dict__",
     "__weakref__", "__firstlineno__", "__static_attributes__"}
)  # fmt: skip


def _only_configures(field_cls: type) -> bool:
    """True for MongoEngine's field classes and for subclasses of them that only
    configure them (an ``__init__`` setting arguments, read-only properties): nothing
    MongoEngine calls while saving, updating or deleting is overridden."""
    for klass in field_cls.__mro__:
        if klass.__module__.startswith("mongoengine."):
            return True
        for name, value in vars(klass).items():
            if name not in _CONFIGURATION and not isinstance(value, property):
                return False
    return False


def _instance_overrides(field: Any) -> bool:
    """True when the field instance replaces one of its class's methods."""
    kind = type(field)
    return any(inspect.isfunction(getattr(kind, name, None)) for name in vars(field))


class _PlainClassPlan:
    """A class found plain by its declaration, and the fields whose values are looked
    at per document (they may hold embedded documents, of any runtime class)."""

    __slots__ = ("open",)

    def __init__(self, open_fields: list[tuple[str, Any]]) -> None:
        self.open = tuple(open_fields)


_plain_class_plans: dict[type, _PlainClassPlan | None] = {}


def _field(field: Any, seen: set[type]) -> tuple[bool, bool]:
    """(plain, open) for ``field``: plain when nothing in it needs MongoEngine's path
    for every value, open when its values need a look per document."""
    if isinstance(field, _IO_FIELDS) or field.validation is not None:
        return False, False
    if not _only_configures(type(field)) or _instance_overrides(field):
        return False, False
    if isinstance(field, (GenericEmbeddedDocumentField, DynamicField, CachedReferenceField)):
        return True, True  # of any class (a cached reference serialises its document)
    if isinstance(field, EmbeddedDocumentField):
        # MongoEngine serialises the value with the declared class's ``to_mongo`` and
        # validates it with its own class's methods: both are looked at.
        return _plan(field.document_type, seen) is not None, True
    if isinstance(field, ComplexBaseField):
        inner = field.field
        if inner is None:
            return True, True  # a list or dict of anything
        return _field(inner, seen)
    return True, False


def _plan(cls: Any, seen: set[type] | None = None) -> _PlainClassPlan | None:
    """The cached write plan of a Document or EmbeddedDocument class, or None."""
    try:
        return _plain_class_plans[cls]
    except KeyError:
        pass
    seen = set() if seen is None else seen
    if cls in seen:  # a class holding itself: open, looked at per document
        return _PlainClassPlan([])
    seen.add(cls)
    try:
        plan = _build(cls, seen)
    except Exception:  # e.g. an embedded document class not defined yet: ask again
        return None
    _plain_class_plans[cls] = plan
    return plan


def _build(cls: Any, seen: set[type]) -> _PlainClassPlan | None:
    if not isinstance(cls, type) or not issubclass(cls, (Document, EmbeddedDocument)):
        return None
    declared: Any = cls
    meta = compat.meta(declared)
    if issubclass(cls, Document):
        if not all(from_mongoengine(cls, name) for name in DOCUMENT_METHODS):
            return None
        if meta.get("abstract") or meta.get("auto_create_index_on_save", False):
            return None
        queryset_class = meta.get("queryset_class", QuerySet)
        if not all(from_mongoengine(queryset_class, name) for name in _QUERYSET_METHODS):
            return None
    elif not all(from_mongoengine(cls, name) for name in EMBEDDED_METHODS):
        return None
    open_fields = []
    for name, field in compat.fields(declared).items():
        plain, is_open = _field(field, seen)
        if not plain:
            return None
        if is_open:
            open_fields.append((name, field))
    return _PlainClassPlan(open_fields)


def plain_class(cls: Any) -> bool:
    """True when ``cls`` is plain by its declaration (see :func:`writes_plainly`)."""
    return _plan(cls) is not None


_SCALARS = frozenset({str, int, float, bool, type(None), ObjectId, datetime.datetime, bytes})


def plain_value(value: Any) -> bool:
    """True when serialising or validating ``value`` calls nothing but MongoEngine's own
    methods: embedded documents of plain classes (looked at whole), references (only
    their id is used), plain values and containers of them."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, DBRef):
        return True
    if isinstance(value, BaseDocument):
        if isinstance(value, Document):  # a reference; a cached one serialises it
            return from_mongoengine(kind, "to_mongo") and "to_mongo" not in vars(value)
        return _plain_instance(value, EMBEDDED_METHODS)
    if isinstance(value, (list, tuple)):
        return all(map(plain_value, value))
    if isinstance(value, dict):
        return all(map(plain_value, value.values()))
    return not hasattr(value, "to_mongo")  # something else that serialises itself


def _plain_instance(document: Any, methods: frozenset[str]) -> bool:
    plan = _plain_class_plans.get(type(document)) or _plan(type(document))
    if plan is None:
        return False
    own = getattr(document, "__dict__", None)
    if own and not methods.isdisjoint(own):  # the instance replaces a method
        return False
    if plan.open:
        data = compat.data(document)
        return all(plain_value(data.get(name)) for name, _ in plan.open)
    return True


def writes_plainly(document: Any) -> bool:
    """True when MongoEngine's save/insert/update/delete of ``document`` needs nothing
    but its own I/O-free steps and one collection call: its class, the instance and
    every embedded document it holds (their runtime classes) are plain."""
    return _plain_instance(document, DOCUMENT_METHODS)
