"""A cheaper ``BaseQuerySet._clone_into``: the same copies, without ``copy.copy``'s dispatch.

Every ``filter()``, ``People.objects(...)``, ``order_by()``, ``limit()``... clones the
queryset, and MongoEngine's ``_clone_into`` copies 25 attributes with ``copy.copy``, whose
generic dispatch (``__reduce_ex__`` and ``copyreg`` for plain objects) was a tenth of the
engine's CPU per single-document operation.  This version makes exactly the copies
``copy.copy`` makes: immutable values as they are, ``list``/``dict`` by their ``copy()``,
MongoEngine's ``Q``/``QCombination``/``QueryFieldList`` as a new object of the class with
the same ``__dict__`` entries (what ``copy.copy`` does for a plain class), anything else
by ``copy.copy`` itself.  A queryset class that overrides ``_clone_into`` keeps its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mongoengine.queryset.field_list import QueryFieldList
from mongoengine.queryset.visitor import Q, QCombination

from . import checked, compat

__all__ = ["COPIED", "clone_into_wrapper"]

#: The attributes MongoEngine 0.29's ``_clone_into`` copies, in its order.
COPIED = compat.CLONE_COPIED

_AS_IS = frozenset({type(None), bool, int, float, str, bytes, tuple, frozenset})
_COPY_METHOD: dict[type, Callable[[Any], Any]] = {list: list.copy, dict: dict.copy}
_PLAIN_HOOKS = ("__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__")


def _plain_object(cls: type) -> bool:
    """True when ``copy.copy`` copies instances of ``cls`` as new object + same __dict__."""
    return not hasattr(cls, "__slots__") and all(
        getattr(cls, hook, None) is getattr(object, hook, None) for hook in _PLAIN_HOOKS
    )


_PLAIN_OBJECTS = frozenset(cls for cls in (Q, QCombination, QueryFieldList) if _plain_object(cls))


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    method = _COPY_METHOD.get(kind)
    if method is not None:
        return method(value)
    if kind in _PLAIN_OBJECTS:
        new = object.__new__(kind)
        new.__dict__.update(value.__dict__)
        return new
    return copy.copy(value)


_plain_classes: dict[type, bool] = {}


def _plain_attributes(cls: type) -> bool:
    """True when no class in ``cls``'s MRO defines one of the copied names (a property,
    a descriptor, a class attribute) or ``__setattr__``/``__getattr__``/``__slots__``:
    then reading and writing them is reading and writing the instance ``__dict__``."""
    plain = _plain_classes.get(cls)
    if plain is None:
        hooks = ("__setattr__", "__getattribute__", "__slots__")
        plain = _plain_classes[cls] = not any(
            name in vars(klass)
            for klass in cls.__mro__
            if klass is not object
            for name in (*COPIED, *hooks)
        )
    return plain


def _copy_into(self: Any, new_qs: Any) -> Any:
    """The copies of MongoEngine's ``_clone_into``, made as the module docstring says."""
    source, target = self.__dict__, new_qs.__dict__
    if _plain_attributes(type(self)) and _plain_attributes(type(new_qs)):
        for name in COPIED:  # plain instance attributes: the dicts directly
            value = source[name] if name in source else getattr(self, name)
            kind = type(value)
            if kind not in _AS_IS:
                method = _COPY_METHOD.get(kind)
                value = method(value) if method is not None else _copy(value)
            target[name] = value
    else:
        for name in COPIED:
            setattr(new_qs, name, _copy(getattr(self, name)))
    compat.set_queryset_auto_dereference(new_qs, compat.queryset_auto_dereference(self))
    if compat.cursor_obj(self):
        compat.set_cursor_obj(new_qs, compat.cursor_obj(self).clone())
    return new_qs


def clone_into_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``BaseQuerySet._clone_into`` with the copies made as above."""
    from mongoengine.queryset.base import BaseQuerySet

    copy_into = _checked(original) if checked.ENABLED else _copy_into

    def _clone_into(self: Any, new_qs: Any) -> Any:
        if not isinstance(new_qs, BaseQuerySet):
            return original(self, new_qs)  # MongoEngine raises its own error
        return copy_into(self, new_qs)

    _clone_into.__doc__ = original.__doc__
    _clone_into.__wrapped__ = original  # type: ignore[attr-defined]
    return _clone_into


_COMPARED = (*COPIED, compat.QUERYSET_AUTO_DEREFERENCE)


def _checked(original: Callable[..., Any]) -> Callable[..., Any]:
    """Checked mode: MongoEngine's ``_clone_into`` fills a twin of ``new_qs`` too; every
    copied attribute must be equal, and a copy where MongoEngine makes one."""

    def copy_into(self: Any, new_qs: Any) -> Any:
        if checked.in_reference():
            return original(self, new_qs)
        checked.note("queryset_copies._clone_into")
        twin = object.__new__(type(new_qs))
        twin.__dict__.update(new_qs.__dict__)
        fast = checked.run(_copy_into, self, new_qs)
        with checked.reference():
            ref = checked.run(original, self, twin)
        if fast.error is not None or ref.error is not None:
            checked.compare("queryset_copies._clone_into", type(self), fast, ref)
            return fast.unwrap()
        for name in _COMPARED:
            source, made, expected = (getattr(q, name, None) for q in (self, new_qs, twin))
            found = checked.first_difference(_structure(made), _structure(expected))
            if found is None and (made is source) != (expected is source):
                copies = (made is not source, expected is not source)
                found = f"a copy made: fast path {copies[0]}, MongoEngine {copies[1]}"
            if found is not None:
                raise checked.report("queryset_copies._clone_into", type(self), f"{name}: {found}")
        if (compat.cursor_obj(new_qs) is None) != (compat.cursor_obj(twin) is None):
            raise checked.report("queryset_copies._clone_into", type(self), "_cursor_obj differs")
        return new_qs

    return copy_into


def _structure(value: Any) -> Any:
    """The comparable form of a copied attribute (query objects by their contents)."""
    if type(value) in _PLAIN_OBJECTS:
        items = sorted((k, _structure(v)) for k, v in vars(value).items())
        return (type(value).__qualname__, items)
    if type(value) is list:
        return ("list", [_structure(v) for v in value])
    return checked.snapshot(value)
