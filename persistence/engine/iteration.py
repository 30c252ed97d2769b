"""Async-native reads: ``async for doc in queryset`` and the list-shaped helpers.

Iteration does not go through the bridge per document: the queryset builds its cursor
(no I/O), then batches are fetched from PyMongo's ``AsyncCursor`` directly and each raw
document is turned into a Document exactly as ``QuerySet.__next__`` does.  At most one
batch is held at a time.
"""

from __future__ import annotations

import functools
from typing import Any

from . import checked, compat
from .bridge import greenlet_spawn
from .class_collections import ensure_prepared
from .from_stored import loader
from .guard import check_async_target
from .query_values import compile_query
from .querying_loads import holds_stored_document, may_query

__all__ = [
    "QuerySetAsyncIterator",
    "queryset_aiter",
    "queryset_async_to_list",
    "queryset_async_values",
    "queryset_async_values_list",
]


class QuerySetAsyncIterator:
    """Async iterator over a queryset's results (documents, dicts or scalars)."""

    __slots__ = ("_convert", "_cursor", "_querying", "_queryset", "_started")

    def __init__(self, queryset: Any) -> None:
        self._queryset = queryset
        self._cursor: Any = None
        self._started = False

    def __aiter__(self) -> QuerySetAsyncIterator:
        return self

    async def _start(self) -> None:
        queryset = self._queryset
        self._started = True
        await ensure_prepared(compat.document(queryset))
        if compat.is_none(queryset) or compat.empty(queryset):
            return
        await compile_query(queryset)
        self._cursor = compat.cursor(queryset).async_target
        document = compat.document(queryset)
        auto = compat.auto_dereference(queryset)
        self._querying = not compat.as_pymongo(queryset) and may_query(document)
        if compat.as_pymongo(queryset):
            self._convert = None
        elif compat.scalar(queryset):
            load, get_scalar = loader(document), functools.partial(compat.get_scalar, queryset)
            self._convert = lambda raw: get_scalar(load(raw, auto))
        else:
            load = loader(document)  # the materialisation fast path (from_stored.py)
            self._convert = lambda raw: load(raw, auto)
        if checked.ENABLED and self._convert is not None:
            from .checked_paths import checked_convert

            self._convert = checked_convert(queryset, self._convert)

    async def __anext__(self) -> Any:
        if not self._started:
            await self._start()
        cursor = self._cursor
        if cursor is None:
            raise StopAsyncIteration
        data = compat.data(cursor)
        if data:
            raw = data.popleft()
        else:
            raw = await cursor.next()  # StopAsyncIteration ends the loop
        convert = self._convert
        if convert is None:
            return raw
        if self._querying and holds_stored_document(raw):  # querying_loads.py
            return await greenlet_spawn(convert, raw)
        return convert(raw)

    async def aclose(self) -> None:
        """Close the server cursor early (``async for`` ended by ``break``)."""
        if self._cursor is not None:
            await self._cursor.close()


def queryset_aiter(self: Any) -> QuerySetAsyncIterator:
    """``QuerySet.__aiter__``: iterate a fresh cursor of the queryset asynchronously."""
    check_async_target(self, "__aiter__")
    return QuerySetAsyncIterator(self.clone())


async def queryset_async_to_list(self: Any, length: int | None = None) -> list[Any]:
    """All results (or the first ``length``) as a list, fetched batch by batch."""
    check_async_target(self, "async_to_list")
    out: list[Any] = []
    if length is not None and length <= 0:
        return out
    async for item in QuerySetAsyncIterator(self.clone()):
        out.append(item)
        if length is not None and len(out) >= length:
            break
    return out


async def queryset_async_values_list(self: Any, *fields: str, flat: bool = False) -> list[Any]:
    """Values of ``fields`` per document: tuples, or plain values with ``flat=True``."""
    check_async_target(self, "async_values_list")
    if flat and len(fields) != 1:
        raise TypeError("flat=True needs exactly one field")
    if not fields:
        raise TypeError("async_values_list() needs at least one field name")
    values = await queryset_async_to_list(self.values_list(*fields))
    if flat or len(fields) > 1:
        return values
    return [(value,) for value in values]


async def queryset_async_values(self: Any, *fields: str) -> list[dict[str, Any]]:
    """One dict per document: ``{field: value}`` for ``fields`` (all fields if none)."""
    check_async_target(self, "async_values")
    if not fields:
        fields = tuple(compat.fields_ordered(compat.document(self)))
    rows = await queryset_async_to_list(self.values_list(*fields))
    if len(fields) == 1:
        return [{fields[0]: value} for value in rows]
    return [dict(zip(fields, row, strict=True)) for row in rows]
