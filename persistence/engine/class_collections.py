"""Which collection a Document class uses on an async alias, and its first-use preparation.

For a class on an async alias, ``Document._get_collection()`` returns a blocking
:class:`~.facades.CollectionFacade` without any I/O, so ``User.objects`` can be built
anywhere.  Index creation (and capped/time-series collection creation), which MongoEngine
does on the first ``_get_collection()`` call, is deferred to the first async operation of
the class: it runs inside the bridge, where I/O is allowed.
"""

from __future__ import annotations

from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME

from . import aliases, compat
from .bridge import greenlet_spawn, in_bridge
from .facades import CollectionFacade
from .task_switches import active_switch, any_switch

__all__ = [
    "alias_of",
    "async_collection_of",
    "async_get_collection",
    "ensure_prepared",
    "facade_collection",
    "forget_alias",
    "forget_prepared",
    "is_async_class",
    "ready_facade",
]

# (alias, collection name) -> facade; and the (class, alias, collection) already prepared.
_facades: dict[tuple[str, str], CollectionFacade] = {}
_prepared: set[tuple[type, str, str]] = set()
# class -> its facade, for classes prepared on their own alias and collection: the answer
# of facade_collection() while no task switch is active and ``cls._collection`` is still
# that facade (MongoEngine resets it on drop_collection, switch_db, disconnect).
_ready: dict[type, CollectionFacade] = {}


def ready_facade(cls: Any) -> CollectionFacade | None:
    """``facade_collection(cls)`` from the per-class cache, or None (ask the long way)."""
    facade = _ready.get(cls)
    if facade is not None and not any_switch() and compat.class_collection_or_none(cls) is facade:
        return facade
    return None


def alias_of(cls: Any) -> str:
    """The connection alias a Document class currently uses (task-local switch first)."""
    switched = active_switch(cls)
    if switched is not None and switched.alias is not None:
        return switched.alias
    return compat.meta(cls).get("db_alias", DEFAULT_CONNECTION_NAME)  # type: ignore[no-any-return]


def is_async_class(cls: Any) -> bool:
    """True when the Document class's alias is an async connection."""
    return aliases.is_async_connection(alias_of(cls))


def facade_collection(cls: Any) -> CollectionFacade:
    """``_get_collection()`` for a class on an async alias: no I/O outside the bridge.

    Inside the bridge the first call for a (class, alias, collection) prepares it.
    """
    return _facade_and_key(cls)[0]


def _facade_and_key(cls: Any) -> tuple[CollectionFacade, tuple[type, str, str]]:
    alias = alias_of(cls)
    name = compat.collection_name(cls)
    facade = _facades.get((alias, name))
    if facade is None:
        facade = _facades[(alias, name)] = CollectionFacade(aliases.database_of(alias)[name])
    key = (cls, alias, name)
    if active_switch(cls) is None and compat.class_collection_or_none(cls) is not facade:
        # First use, or MongoEngine reset it (drop_collection, disconnect): prepare again.
        compat.set_class_collection(cls, facade)
        _prepared.discard(key)
    if key not in _prepared and in_bridge():
        _prepare(cls, key)
    if key in _prepared and active_switch(cls) is None and compat.class_collection(cls) is facade:
        _ready[cls] = facade
    return facade, key


def _prepare(cls: Any, key: tuple[type, str, str]) -> None:
    """Create the class's capped/time-series collection and indexes (in the bridge)."""
    _prepared.add(key)
    try:
        meta = compat.meta(cls)
        if meta.get("max_size") or meta.get("max_documents"):
            compat.get_capped_collection(cls)
        elif meta.get("timeseries"):
            compat.get_timeseries_collection(cls)
        if meta.get("auto_create_index", True) and compat.document_db(cls).client.is_primary:
            cls.ensure_indexes()
    except BaseException:
        _prepared.discard(key)
        raise


def forget_prepared(cls: Any) -> None:
    """Forget that ``cls``'s current collection was prepared (after dropping it)."""
    _ready.pop(cls, None)
    _prepared.discard((cls, alias_of(cls), compat.collection_name(cls)))


async def ensure_prepared(cls: Any) -> CollectionFacade:
    """Prepare ``cls`` from async code (one bridge hop only the first time)."""
    ready = ready_facade(cls)
    if ready is not None:
        return ready
    facade, key = _facade_and_key(cls)
    if key not in _prepared:
        await greenlet_spawn(facade_collection, cls)
    return facade


async def async_get_collection(cls: Any) -> Any:
    """``await Model._async_get_collection()``: the class's PyMongo ``AsyncCollection``,
    prepared (indexes created) on first use.  The async MongoEngine fork's spelling."""
    return (await ensure_prepared(cls)).async_target


def async_collection_of(cls: Any) -> Any:
    """The PyMongo ``AsyncCollection`` behind a class on an async alias."""
    return facade_collection(cls).async_target


def forget_alias(alias: str) -> None:
    """Drop cached collections of ``alias`` (on disconnect)."""
    from mongoengine.document import Document

    for key in [key for key in _facades if key[0] == alias]:
        del _facades[key]
    for doc_cls in compat.get_documents_by_db(alias, DEFAULT_CONNECTION_NAME):
        if issubclass(doc_cls, Document):
            compat.set_class_collection(doc_cls, None)
    for prepared in [prepared for prepared in _prepared if prepared[1] == alias]:
        _prepared.discard(prepared)
        _ready.pop(prepared[0], None)
