"""Building Document instances from BSON without MongoEngine's per-field descriptor walk.

:func:`from_son` produces exactly what ``BaseDocument._from_son`` produces (the same
``_data`` in the same order, ``_changed_fields``, ``_created``, ``_initialised``,
``_dynamic_fields``, instance ``__dict__``, embedded documents' ``_instance``), but
builds the object with ``cls.__new__`` and fills ``_data`` from a plan computed once per
class: field name, db field, and for the fields whose loading keeps a value unchanged
(strings, numbers, booleans, datetimes, ObjectIds, lists of those, embedded documents:
their ``to_python``, ``__set__`` and ``__get__`` are MongoEngine's own, see
:mod:`.plain_classes`) the value types on which it does.  Every other field is converted
and assigned exactly as ``_from_son`` and ``BaseDocument.__init__`` do
(``field.to_python`` then the field's own ``__set__``), so every field type keeps its
behaviour, a user's subclass included.

Anything the plan does not cover falls back to MongoEngine's own ``_from_son``: dynamic
or STRICT documents, classes with ``__init__``, ``__new__``, ``__setattr__`` or
``_from_son`` of their own anywhere in the MRO (the stored ``_cls``'s class is the one
asked), ``_auto_dereference=False`` (``no_dereference``), connected
``pre_init``/``post_init`` receivers, keys the class does not declare, and any
conversion error (MongoEngine then raises its own error).  In checked mode
(:mod:`.checked`) every document built here is compared with MongoEngine's.  The graft
routes ``_from_son`` here inside the bridge, and the async iterator calls :func:`from_son`
directly; sync code outside the bridge keeps MongoEngine's path untouched.
"""

from __future__ import annotations

import copy
import datetime
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

from bson import ObjectId
from bson.son import SON
from mongoengine.base.common import get_document
from mongoengine.document import EmbeddedDocument

from . import checked, compat
from .checked import DECLINED
from .plain_classes import (
    init_receivers,
    loads_embedded,
    loads_list_unchanged,
    loads_plainly,
    loads_unchanged,
)

__all__ = ["from_son", "from_son_wrapper", "load", "loader", "overrides_from_son", "plan_for"]

_ATOMIC = frozenset({str, int, float, bool, datetime.datetime, ObjectId, type(None)})

# How a present value is converted and assigned.
_GENERIC, _SIMPLE, _LIST, _EMBEDDED = 0, 1, 2, 3
_MISSING: Any = object()

_INITIALISED, _CREATED, _CHANGED, _DYNAMIC, _DATA = compat.DOCUMENT_STATE
_set_initialised = compat.state_setter(_INITIALISED)
_set_created = compat.state_setter(_CREATED)
_set_data = compat.state_setter(_DATA)
_set_dynamic_fields = compat.state_setter(_DYNAMIC)
_set_changed = compat.state_setter(_CHANGED)
_set_instance = compat.state_setter(compat.EMBEDDED_OWNER)
_FIELD_AUTO_DEREFERENCE = compat.FIELD_AUTO_DEREFERENCE


class _LoadPlan:
    """What :func:`from_son` needs to know about one Document class."""

    __slots__ = (
        "choices",
        "class_name",
        "cls",
        "cls_field",
        "embedded",
        "entries",
        "fields",
        "order",
        "renamed",
        "renamed_entries",
    )

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.class_name = compat.class_name(cls)
        self.embedded = issubclass(cls, EmbeddedDocument)
        self.fields = list(compat.fields(cls).values())
        # (name, db_field, field, kind, identity types or inner types or embedded class)
        self.entries: list[tuple[str, str, Any, int, Any]] = []
        for name, field in compat.fields(cls).items():
            self.entries.append((name, field.db_field, field, *_load_kind(field)))
        # names whose db field differs: MongoEngine appends them after the others
        self.renamed = frozenset(n for n, f in compat.fields(cls).items() if f.db_field != n)
        self.renamed_entries = [e for e in self.entries if e[0] in self.renamed]
        self.order = {e[1]: e[0] for e in self.entries if e[0] not in self.renamed}
        self.choices = [(n, f) for n, f in compat.fields(cls).items() if f.choices]
        # allow_inheritance declares ``_cls`` as a field; otherwise it is a plain attribute
        self.cls_field = "_cls" in compat.fields(cls)


def _load_kind(field: Any) -> tuple[int, Any]:
    kept = loads_unchanged(field)
    if kept is not None:
        return _SIMPLE, kept
    kept = loads_list_unchanged(field)
    if kept is not None:
        return _LIST, kept
    if loads_embedded(field):
        return _EMBEDDED, None
    return _GENERIC, None


def _plain_default(field: Any) -> bool:
    """True when a missing field's default can be set without its descriptors."""
    return loads_unchanged(field) is not None or loads_list_unchanged(field) is not None


_load_plans: dict[type, _LoadPlan | None] = {}


def overrides_from_son(cls: Any) -> bool:
    """True when a class between ``cls`` and BaseDocument defines its own ``_from_son``."""
    return compat.loads_itself(cls)


def loader(cls: Any) -> Callable[[Any, bool], Any]:
    """``son, auto -> document`` for ``cls``: the plan's path unless ``cls`` overrides
    ``_from_son`` (then its own method, as MongoEngine would call it)."""
    if overrides_from_son(cls):
        return lambda son, auto: compat.from_son(cls, son, _auto_dereference=auto)
    return lambda son, auto: from_son(cls, son, auto)


def load(cls: Any, son: Any, created: bool = False) -> Any:
    """``cls._from_son(son, created=created)`` as a caller outside MongoEngine makes it:
    the class's own ``_from_son`` where it has one, else :func:`from_son`."""
    if overrides_from_son(cls):
        return compat.from_son(cls, son, created=created)
    return from_son(cls, son, True, created)


def plan_for(cls: Any) -> _LoadPlan | None:
    """The cached plan of ``cls``, or None when its instances need ``_from_son``."""
    try:
        return _load_plans[cls]
    except KeyError:
        plan = _load_plans[cls] = _LoadPlan(cls) if loads_plainly(cls) else None
        return plan


_original: Callable[..., Any] | None = None


def _fallback(cls: Any, son: Any, auto: bool, created: bool) -> Any:
    original = _original
    if original is None:  # not grafted (direct use in tests): MongoEngine's own
        return compat.mongoengine_from_son()(cls, son, auto, created)
    return original(cls, son, auto, created)


def from_son(cls: Any, son: Any, _auto_dereference: bool = True, created: bool = False) -> Any:
    """``cls._from_son(son, _auto_dereference, created)``, built from the class's plan."""
    obj = _fast_from_son(cls, son, _auto_dereference, created)
    if obj is DECLINED:
        return _fallback(cls, son, _auto_dereference, created)
    return obj


def _fast_from_son(cls: Any, son: Any, auto: bool, created: bool) -> Any:
    """The document built from the plan, or DECLINED where MongoEngine's path applies."""
    if not auto or not isinstance(son, dict):
        return DECLINED
    plan = plan_for(cls)
    if plan is None or not plan.renamed.isdisjoint(son):
        return DECLINED
    class_name = son.get("_cls", plan.class_name)
    target = plan
    if class_name != plan.class_name:
        target = plan_for(get_document(class_name))  # type: ignore[assignment]
        if target is None or not target.renamed.isdisjoint(son):
            return DECLINED
    if init_receivers():
        return DECLINED
    try:
        return _build(target, son, created)
    except _Unsupported:
        return DECLINED


class _Unsupported(Exception):
    """Raised inside :func:`_build` to hand the document to MongoEngine's path."""


def _build(plan: _LoadPlan, son: dict[str, Any], created: bool) -> Any:
    for field in plan.fields:  # as _from_son aligns each field with the document
        setattr(field, _FIELD_AUTO_DEREFERENCE, True)
    # 1. convert the present values, in field order (as _from_son does)
    converted: dict[str, tuple[Any, Any, int]] = {}
    missing = []
    for name, db_field, field, kind, extra in plan.entries:
        value = son.get(db_field, _MISSING)
        if value is _MISSING:
            missing.append((name, field))
            continue
        try:
            if value is None:
                pass
            elif kind == _SIMPLE:
                if type(value) not in extra:
                    value = field.to_python(value)
                    kind = _GENERIC
            elif kind == _LIST and type(value) is list:
                for item in value:
                    if type(item) not in extra:
                        value = field.to_python(value)
                        kind = _GENERIC
                        break
                else:
                    value = list(value)
            elif (
                kind == _EMBEDDED
                and isinstance(value, dict)
                and plan_for(field.document_type) is not None
            ):
                value = from_son(field.document_type, value, compat.auto_dereference(field))
            else:
                value = field.to_python(value)
                kind = _GENERIC
        except (AttributeError, ValueError) as error:
            raise _Unsupported from error
        converted[name] = (value, field, kind)
    if len(converted) + ("_cls" in son and not plan.cls_field) != len(son):
        raise _Unsupported  # undeclared keys: MongoEngine decides (raise or keep)

    cls = plan.cls
    obj = cls.__new__(cls)
    _set_initialised(obj, False)
    _set_created(obj, True)
    data: dict[str, Any] = {}
    _set_data(obj, data)
    _set_dynamic_fields(obj, SON())
    # 2. defaults of the missing fields, in field order (BaseDocument.__init__)
    for name, field in missing:
        if _plain_default(field):
            value = None
            if not field.null and field.default is not None:
                value = field.default
                if callable(value):
                    value = value()
            if type(value) in _ATOMIC or (type(value) is list and not value):
                data[name] = value
                continue
            field.__set__(obj, value)
        else:
            field.__set__(obj, field.__get__(obj, cls))
    if not plan.cls_field:
        obj.__dict__["_cls"] = son.get("_cls", plan.class_name)
    elif "_cls" not in son:
        data["_cls"] = plan.class_name
    # 3. the present values: declared-name fields in document order, renamed ones last
    for key in son:
        declared = plan.order.get(key)
        if declared is not None:
            _assign(obj, data, declared, *converted[declared])
    for name, _db, _field, _how, _extra in plan.renamed_entries:
        entry = converted.get(name)
        if entry is not None:
            _assign(obj, data, name, *entry)
    for attr_name, field in plan.choices:
        obj.__dict__[f"get_{attr_name}_display"] = partial(
            compat.field_display(obj), field=field
        )
    if plan.embedded:
        _set_instance(obj, None)
    _set_initialised(obj, True)
    _set_created(obj, created)
    _set_changed(obj, [])
    return obj


def _assign(obj: Any, data: dict[str, Any], name: str, value: Any, field: Any, kind: int) -> None:
    if value is None or kind == _GENERIC:
        field.__set__(obj, value)
    elif kind == _EMBEDDED:
        if isinstance(value, EmbeddedDocument):
            _set_instance(value, weakref.proxy(obj))
        data[name] = value
    else:  # _SIMPLE or _LIST of atomic values: BaseField.__set__ just stores them
        data[name] = value


def from_son_wrapper(original: classmethod) -> classmethod:  # type: ignore[type-arg]
    """``BaseDocument._from_son`` for the graft: :func:`from_son` inside the bridge."""
    global _original
    fetch = original.__func__
    _original = fetch
    from .bridge import in_bridge

    def _from_son(cls: Any, son: Any, _auto_dereference: bool = True, created: bool = False) -> Any:
        if in_bridge():
            return from_son(cls, son, _auto_dereference, created)
        return fetch(cls, son, _auto_dereference, created)

    _from_son.__wrapped__ = fetch  # type: ignore[attr-defined]
    _from_son.__doc__ = fetch.__doc__
    return classmethod(_from_son)


def _checked_from_son(
    cls: Any, son: Any, _auto_dereference: bool = True, created: bool = False
) -> Any:
    """:func:`from_son` in checked mode: MongoEngine's ``_from_son`` runs beside it on a
    copy of ``son`` and the two documents must be the same."""
    if checked.in_reference():
        return _fallback(cls, son, _auto_dereference, created)
    original = copy.deepcopy(son)
    fast = checked.run(_fast_from_son, cls, son, _auto_dereference, created)
    if fast.error is None and fast.value is DECLINED:
        return _fallback(cls, son, _auto_dereference, created)
    own = _original or compat.mongoengine_from_son()  # MongoEngine's, whatever _fallback is
    with checked.reference():
        ref = checked.run(own, cls, original, _auto_dereference, created)
    checked.settle_defaults(fast.value, ref.value, original)
    checked.compare("from_stored.from_son", cls, fast, ref)
    return fast.unwrap()


if checked.ENABLED:
    from_son = _checked_from_son
