"""Native ``async_get`` and ``async_count``: no bridge for the reads the peer benchmark
shows it pays for (get by a field, alone and gathered; count with a filter).

MongoEngine builds the queryset exactly as its ``get()`` and ``count()`` do (clone,
``order_by()``, ``limit(2)``, ``filter()``; I/O-free), then the engine awaits PyMongo's
``AsyncCursor`` or count directly and materialises with the fast path, as ``async for``
does.  Results and errors are those of the sync methods (``DoesNotExist``,
``MultipleObjectsReturned`` with MongoEngine's messages); ``async_first`` runs
MongoEngine's ``first()`` in the bridge.  ``tests/engine/test_native_reads.py`` runs
both paths side by side, and checked mode compares them on every call.
"""

from __future__ import annotations

from typing import Any

from mongoengine.errors import InvalidQueryError
from mongoengine.queryset.base import BaseQuerySet
from mongoengine.queryset.queryset import QuerySet, QuerySetNoCache
from mongoengine.queryset.visitor import Q, QNode
from pymongo.asynchronous.collection import AsyncCollection

from . import checked, compat
from .bridge import greenlet_spawn
from .class_collections import ensure_prepared
from .facades import CollectionFacade, unwrap
from .from_stored import loader
from .guard import check_async_target
from .iteration import QuerySetAsyncIterator
from .query_values import compile_query, holds_queryset
from .querying_loads import loading_queries
from .sessions import has_sessions, session_for
from .twin_factories import run_in_bridge

__all__ = ["queryset_async_count", "queryset_async_get"]


_unchanged_methods: dict[tuple[type, str], bool] = {}


def _queryset_method_unchanged(queryset: Any, name: str) -> bool:
    """True unless a custom QuerySet class overrides MongoEngine's ``name`` (then the
    twin runs that override in the bridge, as the generated twins do); cached per class."""
    key = (type(queryset), name)
    own = _unchanged_methods.get(key)
    if own is None:
        method = getattr(key[0], name)
        own = method is vars(BaseQuerySet)[name] or method is vars(QuerySet).get(name)
        _unchanged_methods[key] = own
    return own


_PLAIN_QUERYSETS = (QuerySet, QuerySetNoCache)


def _condition(q_objs: tuple[Any, ...], query: dict[str, Any]) -> Any:
    """The Q object ``filter(*q_objs, **query)`` adds (MongoEngine's errors)."""
    condition = Q(**query)
    if q_objs and q_objs[0]:
        if not isinstance(q_objs[0], QNode):
            raise InvalidQueryError(
                f"Not a query object: {q_objs[0]}. Did you intend to use key=value?"
            )
        condition &= q_objs[0]
    return condition


def _get_queryset(self: Any, q_objs: tuple[Any, ...], query: dict[str, Any]) -> Any:
    """What ``get()`` builds with ``clone().order_by().limit(2).filter(...)``, from one
    clone (MongoEngine's own QuerySet classes only; each of those steps clones)."""
    condition = _condition(q_objs, query)
    queryset = self.clone()
    compat.set_ordering(queryset, [])  # order_by() without keys
    compat.set_limit(queryset, 2)
    compat.set_empty(queryset, False)
    compat.set_query_obj(queryset, compat.query_obj(queryset) & condition)
    compat.set_mongo_query(queryset, None)
    compat.set_cursor_obj(queryset, None)
    return queryset


async def queryset_async_get(self: Any, *q_objs: Any, **query: Any) -> Any:
    """Async twin of ``get()``: same arguments, result and errors."""
    check_async_target(self, "async_get")
    if not _queryset_method_unchanged(self, "get"):
        return await run_in_bridge(compat.document(self), self.get, *q_objs, **query)
    if type(self) in _PLAIN_QUERYSETS and len(q_objs) <= 1:
        if _plain_find(self) and not holds_queryset(compat.query_obj(self), query):
            return await _find_one_of_two(self, q_objs, query)
        queryset = _get_queryset(self, q_objs, query)
    else:
        queryset = self.clone()
        queryset = queryset.order_by().limit(2)
        queryset = queryset.filter(*q_objs, **query)
    return await _get_by_queryset(self, queryset)


def _plain_find(queryset: Any) -> bool:
    """True when the cursor ``get()`` opens takes nothing from ``queryset`` but its query,
    projection, cursor flags and read options (the options :func:`_find_one_of_two`
    applies); anything else (a where clause, skip, hint, collation, batch size, comment,
    text search, none()) takes the queryset path."""
    return (
        compat.where_clause(queryset) is None
        and compat.skip(queryset) is None
        and compat.hint(queryset) == -1
        and compat.collation(queryset) is None
        and compat.batch_size(queryset) is None
        and compat.query_annotation(queryset) is None
        and compat.search_text(queryset) is None
        and not compat.is_none(queryset)
    )


async def _find_one_of_two(self: Any, q_objs: tuple[Any, ...], query: dict[str, Any]) -> Any:
    """``get()`` for a :func:`_plain_find` queryset without building the queryset copy
    ``get()`` makes: the same query (``_query`` of the filtered copy), the same find
    arguments (``_cursor_args``), ``limit(2)``, no sort (``order_by()``); PyMongo's
    cursor awaited directly, each document materialised as ``__next__`` does."""
    condition = _condition(q_objs, query)
    document = compat.document(self)
    await ensure_prepared(document)
    mongo_query = (compat.query_obj(self) & condition).to_query(document)
    cls_query = compat.cls_query(self)
    if cls_query:  # as BaseQuerySet._query merges it
        if "_cls" in mongo_query:
            mongo_query = {"$and": [cls_query, mongo_query]}
        else:
            mongo_query.update(cls_query)
    collection_obj = compat.collection_obj(self)
    collection = collection_obj._target if isinstance(collection_obj, CollectionFacade) else None
    if not isinstance(collection, AsyncCollection):  # another backend (mongomock)
        return await _get_by_queryset(self, _get_queryset(self, q_objs, query))
    if compat.read_preference(self) is not None or compat.read_concern(self) is not None:
        collection = collection.with_options(
            read_preference=compat.read_preference(self), read_concern=compat.read_concern(self)
        )
    kwargs = compat.cursor_args(self)
    session = session_for(collection_obj._client) if has_sessions() else None
    if session is not None:
        kwargs["session"] = unwrap(session)
    found = await collection.find(mongo_query, **kwargs).limit(2).to_list()
    if not found:
        raise document.DoesNotExist(f"{compat.class_name(document)} matching query does not exist.")
    if not compat.as_pymongo(self):
        load = loader(document)
        auto = compat.auto_dereference(self)
        found = [
            await greenlet_spawn(load, raw, auto)  # querying_loads.py
            if loading_queries(document, raw)
            else load(raw, auto)
            for raw in found
        ]
        if compat.scalar(self):
            found = [compat.get_scalar(self, doc) for doc in found]
    if len(found) > 1:
        raise document.MultipleObjectsReturned("2 or more items returned, instead of 1")
    return found[0]


async def _get_by_queryset(self: Any, queryset: Any) -> Any:
    found: list[Any] = []
    async for item in QuerySetAsyncIterator(queryset):
        found.append(item)
    document = compat.document(queryset)
    if not found:
        raise document.DoesNotExist(f"{compat.class_name(document)} matching query does not exist.")
    if len(found) > 1:
        raise document.MultipleObjectsReturned("2 or more items returned, instead of 1")
    return found[0]


def _cursor_collection(queryset: Any) -> Any:
    """The collection of ``queryset._cursor`` (which ``count()`` counts on), without
    building the cursor: with the queryset's read preference and read concern."""
    if compat.cursor_obj(queryset) is not None:
        return unwrap(compat.cursor_obj(queryset)).collection
    collection = unwrap(compat.collection_obj(queryset))
    if compat.read_preference(queryset) is not None or compat.read_concern(queryset) is not None:
        collection = collection.with_options(
            read_preference=compat.read_preference(queryset),
            read_concern=compat.read_concern(queryset),
        )
    return collection


async def queryset_async_count(self: Any, with_limit_and_skip: bool = False) -> int:
    """Async twin of ``count()``: same arguments, result and errors.

    Natively for ``with_limit_and_skip=False`` (QuerySet caches the other form, so
    that one runs MongoEngine's own ``count()`` in the bridge)."""
    check_async_target(self, "async_count")
    if with_limit_and_skip or not _queryset_method_unchanged(self, "count"):
        return await run_in_bridge(compat.document(self), self.count, with_limit_and_skip)  # type: ignore[no-any-return]
    await ensure_prepared(compat.document(self))
    if compat.limit(self) == 0 or compat.is_none(self) or compat.empty(self):
        return 0
    await compile_query(self)
    collection = _cursor_collection(self)
    if not isinstance(collection, AsyncCollection):  # another backend (mongomock)
        return await run_in_bridge(compat.document(self), self.count)  # type: ignore[no-any-return]
    kwargs: dict[str, Any] = {}
    if compat.hint(self) not in (-1, None):
        kwargs["hint"] = compat.hint(self)
    if compat.collation(self):
        kwargs["collation"] = compat.collation(self)
    query = compat.query(self)
    session = session_for(collection.database.client) if has_sessions() else None
    session = None if session is None else unwrap(session)
    if not query and not kwargs and (session is None or not session.in_transaction):
        # as MongoEngine's count_documents(): from the collection's metadata
        count = await collection.estimated_document_count()
    else:  # in a transaction, an unfiltered count too (as the collection facade does)
        if session is not None:
            kwargs["session"] = session
        count = await collection.count_documents(filter=query, **kwargs)
    compat.set_cursor_obj(self, None)
    return int(count)


if checked.ENABLED:  # each read compared with MongoEngine's own (see checked.py)
    from .checked_paths import checked_read

    queryset_async_get = checked_read("reads.async_get", "get", queryset_async_get)
    queryset_async_count = checked_read("reads.async_count", "count", queryset_async_count)
