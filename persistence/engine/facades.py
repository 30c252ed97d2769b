"""Sync-shaped facades over PyMongo's async objects.

MongoEngine's unmodified sync code talks to these as if they were PyMongo's blocking
``MongoClient``/``Database``/``Collection``/``Cursor``; each call that needs I/O forwards
to the wrapped async object and waits with :func:`await_only`, so it only works inside
:func:`greenlet_spawn`.  Outside the bridge the same call raises (nothing ever hands back
an un-awaited coroutine).

The facade classes are generated from PyMongo's async classes: every coroutine method
gets a blocking twin, every other public method is forwarded with its result wrapped, so
a PyMongo upgrade that adds a method is covered automatically (and a test checks it).
Calls that accept ``session=`` join the task's bound session (see :mod:`.sessions`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.cursor_shared import CursorType

from . import compat
from .bridge import await_only
from .sessions import session_for

__all__ = [
    "ClientFacade",
    "CollectionFacade",
    "CommandCursorFacade",
    "CursorFacade",
    "DatabaseFacade",
    "SessionFacade",
    "facade_for",
    "register_facade",
    "unwrap",
]

# Async type -> facade class.  Extended by other async-shaped backends (mongomock).
_FACADES: dict[type, type[Facade]] = {}


def register_facade(async_type: type, facade_type: type[Facade]) -> None:
    """Wrap values of ``async_type`` (and subclasses) in ``facade_type``."""
    _FACADES[async_type] = facade_type


def facade_for(value: Any) -> Any:
    """Wrap ``value`` in its facade if it is one of the async objects, else return it."""
    cls = type(value)
    facade = _FACADES.get(cls)
    if facade is None:
        for base in cls.__mro__[1:]:
            facade = _FACADES.get(base)
            if facade is not None:
                _FACADES[cls] = facade
                break
        else:
            return value
    return facade(value)


def unwrap(value: Any) -> Any:
    """The async object behind a facade (or ``value`` itself)."""
    return value._target if isinstance(value, Facade) else value


class Facade:
    """Base of the generated facades: holds the async target and forwards attributes."""

    __slots__ = ("_client", "_target")
    _async_type: ClassVar[type]
    # Names of the target's coroutine methods that got a blocking twin (for the tests).
    covered: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, target: Any) -> None:
        self._target = target
        self._client = self._find_client(target)

    @staticmethod
    def _find_client(target: Any) -> Any:
        return None

    def __getattr__(self, name: str) -> Any:
        # Plain attributes and properties (``name``, ``codec_options``, ``database``...).
        return facade_for(getattr(self._target, name))

    def __getitem__(self, key: Any) -> Any:
        return facade_for(self._target[unwrap(key)])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facade) and self._target == other._target

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target!r})"

    @property
    def async_target(self) -> Any:
        """The wrapped PyMongo async object."""
        return self._target


# Methods whose signature hides ``session`` behind ``*args, **kwargs``.
_SESSION_VIA_KWARGS = frozenset({"find", "find_one", "find_raw_batches"})


def _accepts_session(func: Callable[..., Any]) -> bool:
    if func.__name__ in _SESSION_VIA_KWARGS:
        return True
    try:
        return "session" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _plain(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Replace facades among the arguments by their async objects (PyMongo wants those).

    ``kwargs`` is changed in place; the positional arguments come back as a tuple.
    """
    for key, value in kwargs.items():
        if isinstance(value, Facade):
            kwargs[key] = value._target
    for value in args:
        if isinstance(value, Facade):
            return tuple(unwrap(item) for item in args)
    return args


def _join_session(facade: Facade, kwargs: dict[str, Any]) -> None:
    if kwargs.get("session") is None:
        session = session_for(facade._client)
        if session is not None:
            kwargs["session"] = session


def _blocking(name: str, joins_session: bool) -> Callable[..., Any]:
    def method(self: Facade, *args: Any, **kwargs: Any) -> Any:
        if joins_session:
            _join_session(self, kwargs)
        args = _plain(args, kwargs)
        return facade_for(await_only(getattr(self._target, name)(*args, **kwargs)))

    method.__name__ = name
    return method


def _forwarding(name: str, joins_session: bool) -> Callable[..., Any]:
    def method(self: Facade, *args: Any, **kwargs: Any) -> Any:
        if joins_session:
            _join_session(self, kwargs)
        args = _plain(args, kwargs)
        return facade_for(getattr(self._target, name)(*args, **kwargs))

    method.__name__ = name
    return method


def _blocking_property(name: str) -> property:
    def getter(self: Facade) -> Any:
        return facade_for(await_only(getattr(self._target, name)))

    return property(getter, doc=f"Blocking twin of the async property ``{name}``.")


# Methods PyMongo implements with its own private machinery or that make no sense on a
# blocking facade; everything else public gets a twin.
_SKIPPED = frozenset({"next", "__aenter__", "__aexit__", "__anext__", "__aiter__"})


def _build(
    facade_cls: type[Facade], async_type: type, *, join_sessions: bool = True
) -> type[Facade]:
    """Give ``facade_cls`` a blocking twin of every public method of ``async_type``.

    With ``join_sessions`` the twins of methods taking ``session=`` join the task's
    transaction (GridFS facades must not: GridFS cannot run in a transaction).
    """
    covered = set()
    for name in dir(async_type):
        if name.startswith("_") or name in _SKIPPED or name in facade_cls.__dict__:
            continue
        attr = inspect.getattr_static(async_type, name)
        if isinstance(attr, property):
            if attr.fget is not None and inspect.iscoroutinefunction(attr.fget):
                setattr(facade_cls, name, _blocking_property(name))
                covered.add(name)
            continue
        func = getattr(attr, "__func__", attr)
        if inspect.iscoroutinefunction(func):
            setattr(facade_cls, name, _blocking(name, join_sessions and _accepts_session(func)))
            covered.add(name)
        elif callable(func):
            setattr(facade_cls, name, _forwarding(name, join_sessions and _accepts_session(func)))
    facade_cls._async_type = async_type
    facade_cls.covered = frozenset(covered | set(getattr(facade_cls, "hand_written", ())))
    register_facade(async_type, facade_cls)
    return facade_cls


class ClientFacade(Facade):
    """Blocking view of an ``AsyncMongoClient``."""

    __slots__ = ()

    @staticmethod
    def _find_client(target: Any) -> Any:
        return target

    def __enter__(self) -> ClientFacade:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DatabaseFacade(Facade):
    """Blocking view of an ``AsyncDatabase``."""

    __slots__ = ()

    @staticmethod
    def _find_client(target: Any) -> Any:
        return target.client


class CollectionFacade(Facade):
    """Blocking view of an ``AsyncCollection``."""

    __slots__ = ()
    hand_written = ("estimated_document_count",)

    @staticmethod
    def _find_client(target: Any) -> Any:
        return target.database.client

    def estimated_document_count(self, **kwargs: Any) -> int:
        """The collection's size; inside a transaction an exact count in the transaction.

        MongoEngine counts an unfiltered queryset with the ``count`` command, which a
        transaction cannot run (PyMongo sends it outside, missing the transaction's
        own writes): there ``count_documents({})`` is used instead.
        """
        session = kwargs.get("session") or session_for(self._client)
        if session is not None and unwrap(session).in_transaction:
            kwargs["session"] = unwrap(session)
            kwargs.pop("maxTimeMS", None)
            return await_only(self._target.count_documents({}, **kwargs))  # type: ignore[no-any-return]
        kwargs.pop("session", None)
        return await_only(self._target.estimated_document_count(**kwargs))  # type: ignore[no-any-return]


class _CursorBase(Facade):
    __slots__ = ()
    hand_written: tuple[str, ...] = ("next",)

    @staticmethod
    def _find_client(target: Any) -> Any:
        return None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        target = self._target
        data = compat.data(target)
        if data:  # the current batch is already here: no switch to the event loop
            return data.popleft()
        try:
            return await_only(target.next())
        except StopAsyncIteration:
            raise StopIteration from None

    next = __next__

    def __enter__(self) -> _CursorBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CursorFacade(_CursorBase):
    """Blocking view of an ``AsyncCursor``, with the sync cursor's indexing and slicing."""

    __slots__ = ()
    hand_written = ("next", "__getitem__")

    def __getitem__(self, index: Any) -> Any:
        target = self._target
        compat.check_okay_to_chain(target)
        compat.set_empty(target, False)
        if isinstance(index, slice):
            if index.step is not None:
                raise IndexError("Cursor instances do not support slice steps")
            skip = 0
            if index.start is not None:
                if index.start < 0:
                    raise IndexError("Cursor instances do not support negative indices")
                skip = index.start
            limit = 0
            if index.stop is not None:
                limit = index.stop - skip
                if limit < 0:
                    raise IndexError(
                        f"stop index must be greater than start index for slice {index!r}"
                    )
                if limit == 0:
                    compat.set_empty(target, True)
            compat.set_skip(target, skip)
            compat.set_limit(target, limit)
            return self
        if isinstance(index, int):
            if index < 0:
                raise IndexError("Cursor instances do not support negative indices")
            clone = target.clone()
            clone.skip(index + compat.skip(target))
            clone.limit(-1)
            compat.set_query_flags(clone, compat.query_flags(clone) & ~CursorType.TAILABLE_AWAIT)
            for doc in CursorFacade(clone):
                return doc
            raise IndexError("no such item for Cursor instance")
        raise TypeError(f"index {index!r} cannot be applied to Cursor instances")


class CommandCursorFacade(_CursorBase):
    """Blocking view of an ``AsyncCommandCursor`` (aggregate, list_indexes...)."""

    __slots__ = ()


class SessionFacade(Facade):
    """Blocking view of an ``AsyncClientSession``."""

    __slots__ = ()

    @staticmethod
    def _find_client(target: Any) -> Any:
        return target.client

    def __enter__(self) -> SessionFacade:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end_session()


_build(ClientFacade, AsyncMongoClient)
_build(DatabaseFacade, AsyncDatabase)
_build(CollectionFacade, AsyncCollection)
_build(CursorFacade, AsyncCursor)
_build(CommandCursorFacade, AsyncCommandCursor)
_build(SessionFacade, AsyncClientSession)
