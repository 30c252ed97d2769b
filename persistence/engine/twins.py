"""The table of MongoEngine's sync I/O methods and their ``async_`` twins.

One row per sync method: where it lives, the twin to use instead, and how the twin is
made.  :mod:`.graft` iterates :data:`TWINS` to guard every sync method of documents,
querysets and GridFS proxies and add their twins (the reference rows are the loading
points :mod:`.references` replaces); the tests enumerate MongoEngine's public methods
against it so nothing slips through, and CI runs MongoEngine's own suite with every row
dispatched to its twin (``.ci/mongoengine_suite/native_twins.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from . import compat

__all__ = [
    "TWINS",
    "Make",
    "Owner",
    "Twin",
    "hand_written_document_twins",
    "hand_written_twins",
    "owner_classes",
    "sync_to_twin",
]


class Owner(Enum):
    """Where the sync method lives."""

    DOCUMENT = "Document instance"
    DOCUMENT_CLASS = "Document class"
    QUERYSET = "QuerySet"
    FILE_PROXY = "GridFSProxy (the value of a FileField)"
    LAZY_REFERENCE = "LazyReference (the value of a lazy reference field)"
    REFERENCE_LOAD = "reference field loading a reference on attribute access"


class Make(Enum):
    """How the twin is made."""

    GENERATED = "run the sync method once in the bridge"
    HAND_WRITTEN = "a function of its own (see :func:`hand_written_twins`)"
    SHARED = "guard only: the twin is another row's, or lives on another object"


class Twin(NamedTuple):
    owner: Owner
    sync_name: str
    twin_name: str
    make: Make = Make.GENERATED


_ON_DOCUMENT, _ON_CLASS, _ON_QUERYSET = Owner.DOCUMENT, Owner.DOCUMENT_CLASS, Owner.QUERYSET
_ON_FILE, _ON_LAZY_REFERENCE = Owner.FILE_PROXY, Owner.LAZY_REFERENCE
_ON_REFERENCE_LOAD = Owner.REFERENCE_LOAD

TWINS: tuple[Twin, ...] = (
    Twin(_ON_DOCUMENT, "save", "async_save", Make.HAND_WRITTEN),
    Twin(_ON_DOCUMENT, "delete", "async_delete"),
    Twin(_ON_DOCUMENT, "reload", "async_reload"),
    Twin(_ON_DOCUMENT, "update", "async_update"),
    Twin(_ON_DOCUMENT, "modify", "async_modify"),
    Twin(_ON_DOCUMENT, "cascade_save", "async_cascade_save"),
    Twin(_ON_DOCUMENT, "select_related", "async_select_related"),
    Twin(_ON_CLASS, "ensure_indexes", "async_ensure_indexes"),
    Twin(_ON_CLASS, "drop_collection", "async_drop_collection"),
    Twin(_ON_CLASS, "create_index", "async_create_index"),
    Twin(_ON_CLASS, "list_indexes", "async_list_indexes"),
    Twin(_ON_CLASS, "compare_indexes", "async_compare_indexes"),
    Twin(_ON_QUERYSET, "count", "async_count", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "get", "async_get", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "first", "async_first"),
    Twin(_ON_QUERYSET, "create", "async_create"),
    Twin(_ON_QUERYSET, "insert", "async_insert"),
    Twin(_ON_QUERYSET, "update", "async_update", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "update_one", "async_update_one", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "upsert_one", "async_upsert_one"),
    Twin(_ON_QUERYSET, "modify", "async_modify"),
    Twin(_ON_QUERYSET, "delete", "async_delete"),
    Twin(_ON_QUERYSET, "distinct", "async_distinct"),
    Twin(_ON_QUERYSET, "sum", "async_sum"),
    Twin(_ON_QUERYSET, "average", "async_average"),
    Twin(_ON_QUERYSET, "item_frequencies", "async_item_frequencies", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "explain", "async_explain"),
    Twin(_ON_QUERYSET, "in_bulk", "async_in_bulk"),
    Twin(_ON_QUERYSET, "with_id", "async_with_id"),
    Twin(_ON_QUERYSET, "map_reduce", "async_map_reduce"),
    Twin(_ON_QUERYSET, "exec_js", "async_exec_js"),
    Twin(_ON_QUERYSET, "to_json", "async_to_json"),
    Twin(_ON_QUERYSET, "select_related", "async_select_related"),
    Twin(_ON_QUERYSET, "rewind", "async_rewind"),
    Twin(_ON_QUERYSET, "aggregate", "async_aggregate", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "__iter__", "__aiter__", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "__next__", "__aiter__", Make.SHARED),
    Twin(_ON_QUERYSET, "__len__", "async_count", Make.SHARED),
    Twin(_ON_QUERYSET, "__bool__", "async_exists", Make.HAND_WRITTEN),
    Twin(_ON_QUERYSET, "__getitem__", "async_first", Make.SHARED),
    # GridFS: the proxy's twins are made in :mod:`.files`; a file written piece by piece
    # is streamed with ``async with Model.field.async_writer(doc)`` (on the field).
    Twin(_ON_FILE, "put", "async_put", Make.HAND_WRITTEN),
    Twin(_ON_FILE, "get", "async_get", Make.HAND_WRITTEN),
    Twin(_ON_FILE, "read", "async_read", Make.HAND_WRITTEN),
    Twin(_ON_FILE, "delete", "async_delete", Make.HAND_WRITTEN),
    Twin(_ON_FILE, "replace", "async_replace", Make.HAND_WRITTEN),
    Twin(_ON_FILE, "new_file", "async_writer", Make.SHARED),
    Twin(_ON_FILE, "write", "async_writer", Make.SHARED),
    Twin(_ON_FILE, "writelines", "async_writer", Make.SHARED),
    Twin(_ON_FILE, "close", "async_writer", Make.SHARED),
    # References (:mod:`.references`): reading a reference attribute on an async alias
    # gives an ``AsyncReferenceProxy`` whose ``async_fetch()`` loads the document.
    Twin(_ON_LAZY_REFERENCE, "fetch", "async_fetch", Make.HAND_WRITTEN),
    Twin(_ON_REFERENCE_LOAD, compat.LAZY_LOAD_REF, "async_fetch", Make.HAND_WRITTEN),
)


def sync_to_twin(*owners: Owner) -> dict[str, str]:
    """sync name -> twin name for the rows of ``owners``."""
    return {row.sync_name: row.twin_name for row in TWINS if row.owner in owners}


def owner_classes(owner: Owner) -> tuple[type, ...]:
    """MongoEngine's classes that define the sync methods of ``owner``'s rows."""
    from mongoengine.base.datastructures import LazyReference
    from mongoengine.document import Document
    from mongoengine.fields import (
        CachedReferenceField,
        GenericReferenceField,
        GridFSProxy,
        ImageGridFsProxy,
        ReferenceField,
    )
    from mongoengine.queryset.base import BaseQuerySet
    from mongoengine.queryset.queryset import QuerySet, QuerySetNoCache

    classes: dict[Owner, tuple[type, ...]] = {
        Owner.DOCUMENT: (Document,),
        Owner.DOCUMENT_CLASS: (Document,),
        Owner.QUERYSET: (BaseQuerySet, QuerySet, QuerySetNoCache),
        Owner.FILE_PROXY: (GridFSProxy, ImageGridFsProxy),
        Owner.LAZY_REFERENCE: (LazyReference,),
        Owner.REFERENCE_LOAD: (ReferenceField, CachedReferenceField, GenericReferenceField),
    }
    return classes[owner]


def hand_written_twins() -> dict[str, Callable[..., Any]]:
    """The QuerySet twins (and list-shaped helpers) written by hand, by name."""
    from .aggregation import queryset_aggregate
    from .frequencies import queryset_item_frequencies
    from .iteration import (
        queryset_aiter,
        queryset_async_to_list,
        queryset_async_values,
        queryset_async_values_list,
    )
    from .reads import queryset_async_count, queryset_async_get
    from .twin_factories import queryset_exists
    from .writes import queryset_async_update, queryset_async_update_one

    return {
        "__aiter__": queryset_aiter,
        "async_get": queryset_async_get,
        "async_count": queryset_async_count,
        "async_aggregate": queryset_aggregate,
        "async_update": queryset_async_update,
        "async_update_one": queryset_async_update_one,
        "async_exists": queryset_exists,
        "async_item_frequencies": queryset_item_frequencies,
        "async_to_list": queryset_async_to_list,
        "async_values": queryset_async_values,
        "async_values_list": queryset_async_values_list,
    }


def hand_written_document_twins() -> dict[str, Callable[..., Any]]:
    """The Document instance twins written by hand (native writes), by name."""
    from .writes import document_async_save

    return {"async_save": document_async_save}
