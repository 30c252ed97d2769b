"""Raw finds for code that compiles its own MongoDB filters (the repository adapters).

``raw_queryset(Doc, filter, order_by=..., skip=..., limit=...)`` is the queryset
``Doc.objects(__raw__=filter).order_by(*order_by).skip(skip).limit(limit).as_pymongo()``
builds, made with one clone instead of five (each chained call clones the queryset).
``async_raw_rows`` returns its rows, iterating that queryset without cloning it again
(``async_to_list`` clones).  Both keep MongoEngine's query building (the class's
``_cls`` condition, a custom manager's filter, switched collections, the task's
transaction) since they start from ``Doc.objects``; ``tests/engine/test_raw_finds.py``
checks them against the chained calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mongoengine.queryset.visitor import Q

from . import checked, compat
from .guard import check_async_target
from .iteration import QuerySetAsyncIterator

__all__ = ["async_raw_rows", "raw_queryset"]


def raw_queryset(
    document_cls: Any,
    query: dict[str, Any],
    *,
    order_by: Sequence[str] = (),
    skip: int = 0,
    limit: int | None = None,
) -> Any:
    """``document_cls.objects(__raw__=query).order_by(*order_by)``, skipped and limited
    (``skip``/``limit`` only when given), ``as_pymongo()``: built from one clone."""
    queryset = document_cls.objects.clone()
    compat.set_query_obj(queryset, compat.query_obj(queryset) & Q(__raw__=query))
    compat.set_mongo_query(queryset, None)
    compat.set_cursor_obj(queryset, None)
    # none: the default one cleared
    compat.set_ordering(queryset, compat.get_order_by(queryset, order_by))
    if skip:
        compat.set_skip(queryset, skip)
    if limit:
        compat.set_limit(queryset, limit)
        compat.set_empty(queryset, False)
    compat.set_as_pymongo(queryset, True)
    return queryset


async def async_raw_rows(
    document_cls: Any,
    query: dict[str, Any],
    *,
    order_by: Sequence[str] = (),
    skip: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The stored documents :func:`raw_queryset` selects, in its order."""
    queryset = raw_queryset(document_cls, query, order_by=order_by, skip=skip, limit=limit)
    check_async_target(queryset, "async_to_list")
    return [row async for row in QuerySetAsyncIterator(queryset)]


def _chained(
    document_cls: Any,
    query: dict[str, Any],
    *,
    order_by: Sequence[str] = (),
    skip: int = 0,
    limit: int | None = None,
) -> Any:
    """The queryset :func:`raw_queryset` stands in for, built by MongoEngine's calls."""
    queryset = document_cls.objects(__raw__=query).order_by(*order_by)
    if skip:
        queryset = queryset.skip(skip)
    if limit:
        queryset = queryset.limit(limit)
    return queryset.as_pymongo()


def _checked_raw_queryset(document_cls: Any, query: dict[str, Any], **options: Any) -> Any:
    """:func:`raw_queryset` in checked mode: the chained calls build a twin, and every
    attribute a queryset copies, its query and its cursor arguments must be equal."""
    from .queryset_copies import COPIED, _structure

    checked.note("raw_finds.raw_queryset")
    fast = _fast_raw_queryset(document_cls, query, **options)
    with checked.reference():
        ref = _chained(document_cls, query, **options)
    for name in (*COPIED, *compat.RAW_FIND_COMPARED):
        found = checked.first_difference(
            _structure(getattr(fast, name)), _structure(getattr(ref, name))
        )
        if found is not None:
            raise checked.report("raw_finds.raw_queryset", document_cls, f"{name}: {found}")
    return fast


_fast_raw_queryset = raw_queryset
if checked.ENABLED:
    raw_queryset = _checked_raw_queryset
