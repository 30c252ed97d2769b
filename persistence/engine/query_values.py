"""Queries with a queryset as a value: ``B.objects(ref__in=A.objects(s="x"))``.

MongoEngine compiles such a query by iterating the inner queryset, which is a query of
its own, so compiling it is I/O.  The native paths compile their query in the task; for
a query holding a queryset they compile it in the bridge first, with MongoEngine's own
code (the queryset keeps the compiled query, so the rest of the path reads it from there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mongoengine.queryset.base import BaseQuerySet

from . import compat
from .bridge import greenlet_spawn

__all__ = ["compile_query", "holds_queryset"]


def holds_queryset(node: Any, query: Mapping[str, Any] | None = None) -> bool:
    """True when the query tree ``node`` (``Q``/``QCombination``), or the keyword
    filters ``query``, hold a queryset as a value."""
    if query and any(isinstance(value, BaseQuerySet) for value in query.values()):
        return True
    values = getattr(node, "query", None)
    if values and any(isinstance(value, BaseQuerySet) for value in values.values()):
        return True
    return any(holds_queryset(child) for child in getattr(node, "children", ()))


def _compile(queryset: Any) -> None:
    compat.query(queryset)


async def compile_query(queryset: Any) -> None:
    """Compile ``queryset``'s query in the bridge when it holds a queryset value."""
    if compat.mongo_query(queryset) is None and holds_queryset(compat.query_obj(queryset)):
        await greenlet_spawn(_compile, queryset)
