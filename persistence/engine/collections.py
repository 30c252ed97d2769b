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

from . import connection
from .bridge import greenlet_spawn, in_bridge
from .facades import CollectionFacade

__all__ = [
    "alias_of",
    "async_collection_of",
    "ensure_prepared",
    "facade_collection",
    "forget_alias",
    "is_async_class",
]

# (alias, collection name) -> facade; and the classes whose indexes are still to be made.
_facades: dict[tuple[str, str], CollectionFacade] = {}
_unprepared: set[type] = set()


def alias_of(cls: Any) -> str:
    """The connection alias a Document class currently uses."""
    return cls._meta.get("db_alias", DEFAULT_CONNECTION_NAME)  # type: ignore[no-any-return]


def is_async_class(cls: Any) -> bool:
    """True when the Document class's alias is an async connection."""
    return connection.is_async_connection(alias_of(cls))


def facade_collection(cls: Any) -> CollectionFacade:
    """``_get_collection()`` for a class on an async alias: no I/O here."""
    alias = alias_of(cls)
    name = cls._get_collection_name()
    key = (alias, name)
    facade = _facades.get(key)
    if facade is None:
        facade = _facades[key] = CollectionFacade(connection.get_async_db(alias)[name])
    if getattr(cls, "_collection", None) is not facade:
        cls._collection = facade
        _unprepared.add(cls)
    if cls in _unprepared and in_bridge():
        _prepare(cls)
    return facade


def _prepare(cls: Any) -> None:
    """Create the class's capped/time-series collection and indexes (in the bridge)."""
    _unprepared.discard(cls)
    try:
        meta = cls._meta
        if meta.get("max_size") or meta.get("max_documents"):
            cls._get_capped_collection()
        elif meta.get("timeseries"):
            cls._get_timeseries_collection()
        if meta.get("auto_create_index", True) and cls._get_db().client.is_primary:
            cls.ensure_indexes()
    except BaseException:
        _unprepared.add(cls)
        raise


async def ensure_prepared(cls: Any) -> CollectionFacade:
    """Prepare ``cls`` from async code (one bridge hop only the first time)."""
    facade = facade_collection(cls)
    if cls in _unprepared:
        await greenlet_spawn(facade_collection, cls)
    return facade


def async_collection_of(cls: Any) -> Any:
    """The PyMongo ``AsyncCollection`` behind a class on an async alias."""
    return facade_collection(cls).async_target


def forget_alias(alias: str) -> None:
    """Drop cached collections of ``alias`` (on disconnect)."""
    from mongoengine.base.common import _get_documents_by_db
    from mongoengine.document import Document

    for key in [key for key in _facades if key[0] == alias]:
        del _facades[key]
    for doc_cls in _get_documents_by_db(alias, DEFAULT_CONNECTION_NAME):
        if issubclass(doc_cls, Document):
            doc_cls._collection = None
            _unprepared.discard(doc_cls)
