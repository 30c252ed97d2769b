"""``async_aggregate``: the queryset's own stages, then the caller's pipeline.

The pipeline is built as MongoEngine's ``aggregate()`` builds it and sent to PyMongo's
async collection directly (no bridge); an overridden ``aggregate`` or the deprecated
unpacked-pipeline spelling run MongoEngine's own method in the bridge.
``tests/engine/test_native_writes.py`` runs both paths side by side.
"""

from __future__ import annotations

from typing import Any

from . import checked
from .class_collections import ensure_prepared
from .facades import unwrap
from .guard import check_async_target
from .sessions import has_sessions, session_for
from .twin_factories import run_in_bridge

__all__ = ["AsyncAggregation", "native_aggregate", "queryset_aggregate"]


def _own_aggregate(queryset: Any) -> bool:
    for klass in type(queryset).__mro__:
        if "aggregate" in vars(klass):
            return klass.__module__.startswith("mongoengine.")
    return True


async def native_aggregate(
    queryset: Any, pipeline: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any | None:
    """``aggregate()`` without the bridge: the queryset's own stages, then ``pipeline``,
    as MongoEngine builds them; the command cursor, or None where only the general path
    applies (an overridden ``aggregate``, the deprecated unpacked-pipeline spelling)."""
    if args or isinstance(pipeline, dict) or not _own_aggregate(queryset):
        return None
    await ensure_prepared(queryset._document)
    stages: list[Any] = []
    if queryset._none or queryset._empty:
        stages.append({"$limit": 1})
        stages.append({"$match": {"$expr": False}})
    if queryset._query:
        stages.append({"$match": queryset._query})
    if queryset._ordering:
        stages.append({"$sort": dict(queryset._ordering)})
    if queryset._limit is not None:
        stages.append({"$limit": queryset._limit + (queryset._skip or 0)})
    if queryset._skip is not None:
        stages.append({"$skip": queryset._skip})
    stages += list(pipeline)
    collection = unwrap(queryset._collection_obj)
    if queryset._read_preference is not None or queryset._read_concern is not None:
        collection = collection.with_options(
            read_preference=queryset._read_preference, read_concern=queryset._read_concern
        )
    if checked.ENABLED:
        collection = checked.recorded(collection)
    if kwargs.get("session") is None and has_sessions():
        session = session_for(collection.database.client)
        if session is not None:
            kwargs = {**kwargs, "session": unwrap(session)}
    return await collection.aggregate(stages, cursor={}, **kwargs)


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
            cursor = await native_aggregate(queryset, self._pipeline, self._args, self._kwargs)
            if cursor is None:  # the general path
                cursor = await run_in_bridge(
                    queryset._document, queryset.aggregate, self._pipeline, *self._args,
                    **self._kwargs,
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


if checked.ENABLED:  # compared with MongoEngine's own aggregate() (see checked.py)
    from .checked_paths import checked_aggregate

    native_aggregate = checked_aggregate(native_aggregate)
