"""The catalogue of MongoEngine's sync I/O methods and their ``async_`` twins.

The graft guards every name listed here and adds the twins; the tests enumerate
MongoEngine's public methods against these tables so nothing slips through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "DOCUMENT_CLASS_IO",
    "DOCUMENT_INSTANCE_IO",
    "QUERYSET_IO",
    "extra_queryset_twins",
]

# Document instance methods that do I/O -> twin.
DOCUMENT_INSTANCE_IO: dict[str, str] = {
    "save": "async_save",
    "delete": "async_delete",
    "reload": "async_reload",
    "update": "async_update",
    "modify": "async_modify",
    "cascade_save": "async_cascade_save",
    "select_related": "async_select_related",
}

# Document classmethods that do I/O -> twin.
DOCUMENT_CLASS_IO: dict[str, str] = {
    "ensure_indexes": "async_ensure_indexes",
    "drop_collection": "async_drop_collection",
    "create_index": "async_create_index",
    "list_indexes": "async_list_indexes",
    "compare_indexes": "async_compare_indexes",
}

# QuerySet methods that do I/O -> the twin to use instead.  Twins named
# ``async_<name>`` are generated; the others are written by hand.
QUERYSET_IO: dict[str, str] = {
    "count": "async_count",
    "get": "async_get",
    "first": "async_first",
    "create": "async_create",
    "insert": "async_insert",
    "update": "async_update",
    "update_one": "async_update_one",
    "upsert_one": "async_upsert_one",
    "modify": "async_modify",
    "delete": "async_delete",
    "distinct": "async_distinct",
    "sum": "async_sum",
    "average": "async_average",
    "item_frequencies": "async_item_frequencies",
    "explain": "async_explain",
    "in_bulk": "async_in_bulk",
    "with_id": "async_with_id",
    "map_reduce": "async_map_reduce",
    "exec_js": "async_exec_js",
    "to_json": "async_to_json",
    "select_related": "async_select_related",
    "rewind": "async_rewind",
    "aggregate": "async_aggregate",
    "__iter__": "__aiter__",
    "__next__": "__aiter__",
    "__len__": "async_count",
    "__bool__": "async_exists",
    "__getitem__": "async_first",
}

# Twins that are not a plain "run the sync method in the bridge".
HAND_WRITTEN_TWINS = frozenset(
    {"async_aggregate", "async_item_frequencies", "async_get", "async_first", "async_count"}
)


def generated_queryset_twins() -> dict[str, str]:
    """sync name -> twin for the twins made by :func:`twins.queryset_twin`."""
    return {
        name: twin
        for name, twin in QUERYSET_IO.items()
        if twin == f"async_{name}" and twin not in HAND_WRITTEN_TWINS
    }


def extra_queryset_twins() -> dict[str, Callable[..., Any]]:
    """Hand-written QuerySet twins, by name."""
    from .frequencies import queryset_item_frequencies
    from .reads import queryset_async_count, queryset_async_first, queryset_async_get
    from .twins import queryset_aggregate, queryset_exists

    return {
        "async_get": queryset_async_get,
        "async_first": queryset_async_first,
        "async_count": queryset_async_count,
        "async_aggregate": queryset_aggregate,
        "async_exists": queryset_exists,
        "async_item_frequencies": queryset_item_frequencies,
    }
