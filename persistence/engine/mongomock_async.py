"""Async-shaped wrappers over mongomock, so an in-process alias runs the same async API.

``connect_async(..., mongo_client_class=mongomock.MongoClient)`` registers one of these
in place of an ``AsyncMongoClient``.  Each wrapper mirrors the PyMongo async class it
stands for: where PyMongo's method is a coroutine, the wrapper's is too (it runs the
mongomock call and returns); everything else is forwarded and its result wrapped.  The
sync facades (:mod:`.facades`) then treat both backends alike.

A tz-aware alias (``tz_aware=True, tzinfo=zone``) gives aware datetimes in ``zone``, as
PyMongo does: mongomock returns them in UTC and knows no other zone, so the wrappers
convert what they hand out (documents, cursors' documents, distinct values) and report
the alias's ``codec_options`` with the zone.
"""

from __future__ import annotations

import datetime
import inspect
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import bson
from bson.binary import UuidRepresentation
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import DocumentTooLarge

from .facades import CommandCursorFacade, CursorFacade, facade_for, register_facade

__all__ = ["AsyncMongomockClient", "wrap_mongomock"]

_WRAPPERS: dict[type, type[_AsyncShaped]] = {}


def wrap_mongomock(value: Any, zone: datetime.tzinfo | None = None) -> Any:
    """Wrap a mongomock client/database/collection/cursor in its async-shaped twin;
    with a ``zone``, aware datetimes in ``value`` (a document or list) are put in it."""
    for base in type(value).__mro__:
        wrapper = _WRAPPERS.get(base)
        if wrapper is not None:
            return wrapper(value, zone)
    return value if zone is None else in_zone(value, zone)


def in_zone(value: Any, zone: datetime.tzinfo) -> Any:
    """``value`` with every aware datetime in it (in dicts and lists) put in ``zone``."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(zone) if value.tzinfo is not None else value
    if isinstance(value, dict):
        return type(value)((key, in_zone(item, zone)) for key, item in value.items())
    if isinstance(value, list):
        return [in_zone(item, zone) for item in value]
    return value


def _plain_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    session = kwargs.pop("session", None)
    if session is not None:
        raise NotImplementedError("mongomock has no sessions or transactions")
    return kwargs


class _AsyncShaped:
    __slots__ = ("_target", "_zone")
    _mirror: ClassVar[type]

    def __init__(self, target: Any, zone: datetime.tzinfo | None = None) -> None:
        self._target = target
        self._zone = zone

    def __getattr__(self, name: str) -> Any:
        return wrap_mongomock(getattr(self._target, name), self._zone)

    def __getitem__(self, key: Any) -> Any:
        return wrap_mongomock(self._target[key], self._zone)

    @property
    def codec_options(self) -> Any:
        """mongomock's codec options; with a zone, PyMongo's, holding it."""
        options = self._target.codec_options
        if self._zone is None:
            return options
        return bson.CodecOptions(
            tz_aware=True,
            tzinfo=self._zone,
            uuid_representation=getattr(
                options, "uuid_representation", UuidRepresentation.STANDARD
            ),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _AsyncShaped) and self._target == other._target

    def __hash__(self) -> int:
        return hash(id(self._target))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target!r})"


def _coroutine(name: str) -> Callable[..., Any]:
    async def method(self: _AsyncShaped, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self._target, name)(*args, **_plain_kwargs(kwargs))
        return wrap_mongomock(result, self._zone)

    method.__name__ = name
    return method


def _plain(name: str) -> Callable[..., Any]:
    def method(self: _AsyncShaped, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self._target, name)(*args, **_plain_kwargs(kwargs))
        return wrap_mongomock(result, self._zone)

    method.__name__ = name
    return method


def _async_property(name: str) -> property:
    async def getter(self: _AsyncShaped) -> Any:
        return wrap_mongomock(getattr(self._target, name), self._zone)

    return property(getter)


def _mirror(cls: type[_AsyncShaped], mirror: type, *mongomock_types: type) -> None:
    own = {name for klass in cls.__mro__[:-2] for name in vars(klass)}  # not _AsyncShaped/object
    for name in dir(mirror):
        if name.startswith("_") or name in own:
            continue
        attr = inspect.getattr_static(mirror, name)
        if isinstance(attr, property):
            if attr.fget is not None and inspect.iscoroutinefunction(attr.fget):
                setattr(cls, name, _async_property(name))
            continue
        func = getattr(attr, "__func__", attr)
        if inspect.iscoroutinefunction(func):
            setattr(cls, name, _coroutine(name))
        elif callable(func):
            setattr(cls, name, _plain(name))
    cls._mirror = mirror
    for mongomock_type in mongomock_types:
        _WRAPPERS[mongomock_type] = cls


class AsyncMongomockClient(_AsyncShaped):
    """An ``AsyncMongoClient``-shaped client over ``mongomock.MongoClient``."""

    __slots__ = ()

    def __init__(
        self, target: Any = None, zone: datetime.tzinfo | None = None, **kwargs: Any
    ) -> None:
        if target is None:
            import mongomock

            target = mongomock.MongoClient(**kwargs)
        super().__init__(target, zone)

    async def close(self) -> None:
        self._target.close()

    aclose = close

    async def aconnect(self) -> None:
        return None

    def start_session(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("mongomock has no sessions or transactions")


class AsyncMongomockDatabase(_AsyncShaped):
    """An ``AsyncDatabase``-shaped wrapper over a mongomock database."""

    __slots__ = ()


_MAX_BSON_SIZE = 16 * 1024 * 1024  # what a server reports as maxBsonObjectSize


def _check_size(document: Any) -> None:
    """PyMongo's client-side refusal of a document over the server's limit, which
    mongomock does not make."""
    size = len(bson.encode(document))
    if size > _MAX_BSON_SIZE:
        raise DocumentTooLarge(
            f"BSON document too large ({size} bytes) - the connected server supports "
            f"BSON document sizes up to {_MAX_BSON_SIZE} bytes."
        )


class AsyncMongomockCollection(_AsyncShaped):
    """An ``AsyncCollection``-shaped wrapper over a mongomock collection; inserts over
    16 MB are refused with ``DocumentTooLarge`` as PyMongo does."""

    __slots__ = ()

    async def insert_one(self, document: Any, *args: Any, **kwargs: Any) -> Any:
        _check_size(document)
        result = self._target.insert_one(document, *args, **_plain_kwargs(kwargs))
        return wrap_mongomock(result, self._zone)

    async def insert_many(self, documents: Any, *args: Any, **kwargs: Any) -> Any:
        documents = list(documents)
        for document in documents:
            _check_size(document)
        result = self._target.insert_many(documents, *args, **_plain_kwargs(kwargs))
        return wrap_mongomock(result, self._zone)


class _AsyncMongomockCursorBase(_AsyncShaped):
    __slots__ = ()
    # The sync facade looks for a prefetched batch here; mongomock has none.
    _data: ClassVar[deque[Any]] = deque()

    def __aiter__(self) -> _AsyncMongomockCursorBase:
        return self

    async def __anext__(self) -> Any:
        return await self.next()

    async def next(self) -> Any:
        try:
            document = next(self._target)
        except StopIteration:
            raise StopAsyncIteration from None
        return document if self._zone is None else in_zone(document, self._zone)

    async def to_list(self, length: int | None = None) -> list[Any]:
        out = []
        for doc in self._target:
            out.append(doc if self._zone is None else in_zone(doc, self._zone))
            if length is not None and len(out) >= length:
                break
        return out


class AsyncMongomockCursor(_AsyncMongomockCursorBase):
    """An ``AsyncCursor``-shaped wrapper over a mongomock cursor."""

    __slots__ = ()


class AsyncMongomockCommandCursor(_AsyncMongomockCursorBase):
    """An ``AsyncCommandCursor``-shaped wrapper over a mongomock command cursor."""

    __slots__ = ()


class MongomockCursorFacade(CursorFacade):
    """Sync facade over the mongomock cursor wrapper: indexing is mongomock's own."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        return facade_for(wrap_mongomock(self._target._target[index], self._target._zone))


def _install() -> None:
    import mongomock
    from mongomock.collection import Collection, Cursor
    from mongomock.command_cursor import CommandCursor
    from mongomock.database import Database

    _mirror(AsyncMongomockClient, AsyncMongoClient, mongomock.MongoClient)
    _mirror(AsyncMongomockDatabase, AsyncDatabase, Database)
    _mirror(AsyncMongomockCollection, AsyncCollection, Collection)
    _mirror(AsyncMongomockCursor, AsyncCursor, Cursor)
    _mirror(AsyncMongomockCommandCursor, AsyncCommandCursor, CommandCursor)
    from .facades import ClientFacade, CollectionFacade, DatabaseFacade

    register_facade(AsyncMongomockClient, ClientFacade)
    register_facade(AsyncMongomockDatabase, DatabaseFacade)
    register_facade(AsyncMongomockCollection, CollectionFacade)
    register_facade(AsyncMongomockCursor, MongomockCursorFacade)
    register_facade(AsyncMongomockCommandCursor, CommandCursorFacade)


_install()
