"""Factories for the ``async_`` twins of MongoEngine's sync I/O methods.

A twin checks that its receiver is on an async alias, then runs the unmodified sync
method once inside :func:`greenlet_spawn` (one bridge per operation), after preparing the
class (indexes on first use).  Results and exceptions are the sync method's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import checked, compat
from .bridge import greenlet_spawn
from .class_collections import facade_collection, is_async_class
from .facades import unwrap
from .guard import check_async_target

__all__ = [
    "class_twin",
    "instance_twin",
    "queryset_exists",
    "queryset_twin",
    "run_in_bridge",
]


# Sync methods that never use the class's collection object, so never create its indexes
# (``drop_collection`` drops by name): their twins skip the first-use preparation too.
_UNPREPARED = frozenset({"drop_collection"})


def _prepare(cls: Any) -> None:
    # An abstract class has no collection: MongoEngine's own method raises its error.
    if is_async_class(cls) and compat.collection_name(cls) is not None:
        facade_collection(cls)


def _run(cls: type, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if checked.ENABLED:  # tells a checked fast path that MongoEngine's method ran
        checked.mark_general(getattr(fn, "__name__", "?"))
    _prepare(cls)
    return unwrap(fn(*args, **kwargs))  # a facade never leaves the bridge


def _run_unprepared(
    cls: type, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return unwrap(fn(*args, **kwargs))


async def run_in_bridge(cls: type, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` in the bridge after preparing ``cls`` for its first async use."""
    return await greenlet_spawn(_run, cls, fn, args, kwargs)


def instance_twin(sync_name: str, twin: str) -> Callable[..., Any]:
    """``async def twin(self, ...)`` for a Document instance method."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, twin)
        return await greenlet_spawn(_run, type(self), getattr(self, sync_name), args, kwargs)

    method.__name__ = method.__qualname__ = twin
    method.__doc__ = f"Async twin of ``{sync_name}()``: same arguments, result and errors."
    return method


def class_twin(sync_name: str, twin: str) -> classmethod:  # type: ignore[type-arg]
    """``async def twin(cls, ...)`` for a Document classmethod."""

    run = _run_unprepared if sync_name in _UNPREPARED else _run

    async def method(cls: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(cls, twin)
        return await greenlet_spawn(run, cls, getattr(cls, sync_name), args, kwargs)

    method.__name__ = method.__qualname__ = twin
    method.__doc__ = f"Async twin of ``{sync_name}()``: same arguments, result and errors."
    return classmethod(method)


def queryset_twin(sync_name: str, twin: str) -> Callable[..., Any]:
    """``async def twin(self, ...)`` for a QuerySet method."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, twin)
        bound = getattr(self, sync_name)
        return await greenlet_spawn(_run, compat.document(self), bound, args, kwargs)

    method.__name__ = method.__qualname__ = twin
    method.__doc__ = f"Async twin of ``{sync_name}()``: same arguments, result and errors."
    return method


def _has_data(queryset: Any) -> bool:
    return bool(compat.has_data(queryset))


async def queryset_exists(self: Any) -> bool:
    """True when the queryset matches at least one document."""
    check_async_target(self, "async_exists")
    return bool(await greenlet_spawn(_run, compat.document(self), _has_data, (self,), {}))
