"""``async_item_frequencies``: MongoEngine's item frequencies computed by aggregation.

Sync MongoEngine computes them with server-side JavaScript (``exec_js``/map-reduce),
which servers increasingly disable; the async twin uses an aggregation pipeline with
the same result: each array element counts once, a missing or null value counts as
``None``, whole floats become ints, and ``normalize=True`` divides by the total.
"""

from __future__ import annotations

from typing import Any

from . import compat
from .aggregation import queryset_aggregate
from .guard import check_async_target

__all__ = ["frequencies_pipeline", "queryset_item_frequencies"]


def frequencies_pipeline(db_path: str) -> list[dict[str, Any]]:
    """Pipeline stages counting the values found at ``db_path`` (after the match).

    Empty arrays contribute nothing; a missing or null value is one ``None``.
    """
    return [
        {"$match": {db_path: {"$ne": []}}},
        {"$project": {"_id": 0, "v": f"${db_path}"}},
        {"$unwind": {"path": "$v", "preserveNullAndEmptyArrays": True}},
        {"$group": {"_id": "$v", "n": {"$sum": 1}}},
    ]


async def queryset_item_frequencies(
    self: Any, field: str, normalize: bool = False, map_reduce: bool = True
) -> dict[Any, int | float]:
    """Async twin of ``item_frequencies()``: ``{value: count}`` over the queryset."""
    check_async_target(self, "async_item_frequencies")
    del map_reduce  # accepted for signature compatibility; no JavaScript is used
    (db_path,) = compat.fields_to_dbfields(self, [field])
    queryset = self.clone()
    compat.set_ordering(queryset, [])  # order does not matter for counting
    cursor = await queryset_aggregate(queryset, frequencies_pipeline(db_path))
    counts: dict[Any, int | float] = {}
    async for row in cursor:
        key = row["_id"]
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        counts[key] = counts.get(key, 0) + row["n"]
    if normalize:
        total = sum(counts.values())
        return {key: count / total for key, count in counts.items()} if total else counts
    return counts
