"""Which connection an object targets, and the wrong-method guard.

A sync I/O method of MongoEngine called (outside the bridge) on a document, class or
queryset bound to an async alias raises ``RuntimeError`` naming its ``async_`` twin; an
``async_`` method on a sync alias raises ``RuntimeError`` pointing to ``connect_async``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import aliases, compat
from .bridge import in_bridge
from .class_collections import alias_of
from .facades import CollectionFacade

__all__ = [
    "check_async_target",
    "guard_classmethod",
    "guard_item_access",
    "guard_method",
    "targets_async",
    "wrong_method_error",
]


def _collection_of(obj: Any) -> Any:
    if compat.has_collection_obj(obj):  # a queryset
        return compat.collection_obj(obj)
    return compat.class_collection_or_none(obj)  # a document or class (switch_db sets it)


def targets_async(obj: Any) -> bool:
    """True when ``obj`` (document, Document class or queryset) uses an async alias."""
    if not aliases.any_async():
        return False
    collection = _collection_of(obj)
    if collection is not None:
        return isinstance(collection, CollectionFacade)
    cls = compat.document(obj) if compat.has_document(obj) else obj
    if not isinstance(cls, type):
        cls = type(cls)
    return aliases.is_async_connection(alias_of(cls))


def _alias_name(obj: Any) -> str:
    cls = compat.document(obj) if compat.has_document(obj) else obj
    if not isinstance(cls, type):
        cls = type(cls)
    collection = _collection_of(obj)
    if isinstance(collection, CollectionFacade):
        for alias in aliases.async_aliases():
            if aliases.database_of(alias) == collection.async_target.database:
                return alias
    return alias_of(cls)


def _subject(obj: Any) -> tuple[str, str]:
    """How to name the receiver in messages: (owner, expression)."""
    if compat.has_document(obj):
        name = compat.document(obj).__name__
        return f"{name}.objects", f"{name}.objects"
    if isinstance(obj, type):
        return obj.__name__, obj.__name__
    name = type(obj).__name__
    return name, name[:1].lower() + name[1:]


def wrong_method_error(obj: Any, method: str, twin: str) -> RuntimeError:
    owner, expr = _subject(obj)
    if twin == "__aiter__":
        fix = f"iterate with `async for doc in {expr}` (or await {expr}.async_to_list())"
    else:
        fix = f"use await {expr}.{twin}()"
    return RuntimeError(
        f"{owner}.{method}() cannot run on async connection '{_alias_name(obj)}': {fix}"
    )


def check_async_target(obj: Any, twin: str) -> None:
    """Raise unless ``obj`` is bound to an async alias (for ``async_`` methods)."""
    if not targets_async(obj):
        owner, _ = _subject(obj)
        raise RuntimeError(
            f"{owner}.{twin}() needs an async connection, but alias "
            f"'{_alias_name(obj)}' is a synchronous connection (not async): register it "
            "with `await connect_async(...)` or call the sync method"
        )


def guard_method(func: Callable[..., Any], twin: str) -> Callable[..., Any]:
    """Wrap a sync I/O method (of a Document, its class or a QuerySet) with the guard."""
    name = func.__name__

    @functools.wraps(func)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        if aliases.any_async() and not in_bridge() and targets_async(self):
            raise wrong_method_error(self, name, twin)
        return func(self, *args, **kwargs)

    guarded.__persistence_guard__ = twin  # type: ignore[attr-defined]
    return guarded


def guard_item_access(func: Callable[..., Any], twin: str) -> Callable[..., Any]:
    """Guard ``QuerySet.__getitem__``: an integer index is I/O, a slice is not."""

    @functools.wraps(func)
    def guarded(self: Any, key: Any) -> Any:
        if aliases.any_async() and isinstance(key, int) and not in_bridge() and targets_async(self):
            raise wrong_method_error(self, "__getitem__", twin)
        return func(self, key)

    guarded.__persistence_guard__ = twin  # type: ignore[attr-defined]
    return guarded


def guard_classmethod(method: classmethod, twin: str) -> classmethod:  # type: ignore[type-arg]
    """Guard a Document classmethod (``ensure_indexes``, ``drop_collection``...)."""
    return classmethod(guard_method(method.__func__, twin))
