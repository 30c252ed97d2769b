"""Factories for the ``async_`` twins of MongoEngine's sync I/O methods.

A twin checks that its receiver is on an async alias, then runs the unmodified sync
method once inside :func:`greenlet_spawn` (one bridge per operation), after preparing the
class (indexes on first use).  Results and exceptions are the sync method's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .bridge import greenlet_spawn
from .class_collections import facade_collection, is_async_class
from .facades import unwrap
from .guard import check_async_target

__all__ = [
    "AsyncAggregation",
    "class_twin",
    "instance_twin",
    "queryset_aggregate",
    "queryset_exists",
    "queryset_twin",
    "run_in_bridge",
]


def _prepare(cls: type) -> None:
    if is_async_class(cls):
        facade_collection(cls)


def _run(cls: type, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _prepare(cls)
    return unwrap(fn(*args, **kwargs))  # a facade never leaves the bridge


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

    async def method(cls: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(cls, twin)
        return await greenlet_spawn(_run, cls, getattr(cls, sync_name), args, kwargs)

    method.__name__ = method.__qualname__ = twin
    method.__doc__ = f"Async twin of ``{sync_name}()``: same arguments, result and errors."
    return classmethod(method)


def queryset_twin(sync_name: str, twin: str) -> Callable[..., Any]:
    """``async def twin(self, ...)`` for a QuerySet method."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, twin)
        return await greenlet_spawn(_run, self._document, getattr(self, sync_name), args, kwargs)

    method.__name__ = method.__qualname__ = twin
    method.__doc__ = f"Async twin of ``{sync_name}()``: same arguments, result and errors."
    return method


def _has_data(queryset: Any) -> bool:
    return queryset._has_data()  # type: ignore[no-any-return]


async def queryset_exists(self: Any) -> bool:
    """True when the queryset matches at least one document."""
    check_async_target(self, "async_exists")
    return await greenlet_spawn(_run, self._document, _has_data, (self,), {})  # type: ignore[no-any-return]


class AsyncAggregation:
    """What ``async_aggregate()`` returns: await it, or iterate it with ``async for``.

    ``await qs.async_aggregate(pipeline)`` gives PyMongo's ``AsyncCommandCursor``;
    ``async for row in qs.async_aggregate(pipeline)`` iterates the same rows directly
    (the async MongoEngine fork's spelling).  The pipeline runs once, on first use.
    """

    __slots__ = ("_args", "_cursor", "_kwargs", "_pipeline", "_queryset")

    def __init__(
        self, queryset: Any, pipeline: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._queryset = queryset
        self._pipeline = pipeline
        self._args = args
        self._kwargs = kwargs
        self._cursor: Any = None

    async def _open(self) -> Any:
        if self._cursor is None:
            queryset = self._queryset
            cursor = await greenlet_spawn(
                _run, queryset._document, queryset.aggregate, (self._pipeline, *self._args),
                self._kwargs,
            )  # fmt: skip
            self._cursor = cursor
        return self._cursor

    def __await__(self) -> Any:
        return self._open().__await__()

    def __aiter__(self) -> AsyncAggregation:
        return self

    async def __anext__(self) -> Any:
        cursor = self._cursor if self._cursor is not None else await self._open()
        return await cursor.next()

    async def to_list(self, length: int | None = None) -> list[Any]:
        """All rows (at most ``length``)."""
        return await (await self._open()).to_list(length)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Close the server cursor early."""
        if self._cursor is not None:
            await self._cursor.close()


def queryset_aggregate(self: Any, pipeline: Any, *args: Any, **kwargs: Any) -> AsyncAggregation:
    """Run ``pipeline`` after the queryset's own match/sort/skip/limit stages.

    Await the result for PyMongo's ``AsyncCommandCursor`` or iterate it directly with
    ``async for``.
    """
    check_async_target(self, "async_aggregate")
    return AsyncAggregation(self, pipeline, args, kwargs)
