"""Repository operations created in a unit of work, so that ``commit()`` can refuse to
keep a block in which one was never awaited (a forgotten ``await`` would otherwise store
nothing while the commit succeeds).

Every public coroutine method of a repository is wrapped once, at class creation: a call
records the coroutine it returns with the unit of work (one list append), and the unit's
``commit()`` asks :meth:`PendingOperations.take_unawaited` for those never started.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["PendingOperations", "track_operations", "tracked_subclass"]

C = TypeVar("C", bound=type)

_COMPACT_AT = 256


def _never_started(coroutine: Coroutine[Any, Any, Any]) -> bool:
    return inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED


class PendingOperations:
    """The operations created since the last check, by name (``orders.add``)."""

    __slots__ = ("_items", "_limit")

    def __init__(self) -> None:
        self._items: list[tuple[Coroutine[Any, Any, Any], str]] = []
        self._limit = _COMPACT_AT

    def add(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """Record ``coroutine``, the operation ``name``."""
        items = self._items
        items.append((coroutine, name))
        if len(items) >= self._limit:  # forget the finished ones of a long block
            kept = [item for item in items if _never_started(item[0])]
            self._items = kept
            self._limit = max(_COMPACT_AT, 2 * len(kept))  # amortized: linear overall

    def take_unawaited(self) -> list[str]:
        """The names of the operations never awaited (closed, so they never run and
        raise no ``RuntimeWarning``); forgets every operation recorded so far."""
        items, self._items = self._items, []
        self._limit = _COMPACT_AT
        names = []
        for coroutine, name in items:
            if _never_started(coroutine):
                coroutine.close()
                names.append(name)
        return names


def _tracked(method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    operation = method.__name__

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        coroutine = method(self, *args, **kwargs)
        owner = self.__dict__.get("inner", self)  # an aggregate's own repository class
        owner._uow._pending.add(coroutine, f"{owner.name}.{operation}")
        return coroutine

    call.__tracked__ = True  # type: ignore[attr-defined]
    return call


def track_operations(cls: C) -> C:
    """Wrap the public coroutine methods ``cls`` defines (in place; returns ``cls``)."""
    for name, value in list(vars(cls).items()):
        if (
            not name.startswith("_")
            and inspect.iscoroutinefunction(value)
            and not getattr(value, "__tracked__", False)
        ):
            setattr(cls, name, _tracked(value))
    return cls


_TRACKED: dict[type, Any] = {}


def tracked_subclass(cls: C) -> C:
    """A subclass of ``cls`` (an aggregate's own repository class) whose public
    coroutine methods, inherited ones included, are recorded; made once per class."""
    made = _TRACKED.get(cls)
    if made is None:
        made = _TRACKED[cls] = _make_tracked_subclass(cls)
    return made


def _make_tracked_subclass(cls: C) -> C:
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__}
    for name in dir(cls):
        value = inspect.getattr_static(cls, name)
        if not name.startswith("_") and inspect.iscoroutinefunction(value):
            namespace[name] = _tracked(value)
    return type(cls.__name__, (cls,), namespace)  # type: ignore[return-value]
