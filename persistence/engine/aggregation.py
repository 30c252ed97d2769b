"""``async_aggregate``: MongoEngine's ``aggregate()`` in the bridge, awaitable and iterable.

MongoEngine's own method builds the pipeline (the queryset's ``$match``, ``$sort``,
``$limit``, ``$skip``, then the caller's stages) and opens the cursor; a native copy of
that step saved about 16 µs of a 3.2 ms aggregation (docs/performance.md) and was
replaced by it.
"""

from __future__ import annotations

from typing import Any

from . import compat
from .guard import check_async_target
from .twin_factories import run_in_bridge

__all__ = ["AsyncAggregation", "queryset_aggregate"]


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
            self._cursor = await run_in_bridge(
                compat.document(queryset), queryset.aggregate, self._pipeline, *self._args,
                **self._kwargs,
            )  # fmt: skip
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

