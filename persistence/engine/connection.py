"""Async connections: ``connect_async`` and the registry of async aliases.

Async aliases live in their own registry, beside MongoEngine's: an async alias never
shares a client with a sync alias (two async aliases with identical settings do share
one, as MongoEngine does for sync aliases).  MongoEngine's ``get_db``/``get_connection``
are taught (in :mod:`persistence.engine.graft`) to answer for async aliases: inside the
bridge they return blocking facades, anywhere else PyMongo's async objects.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from mongoengine.connection import (
    DEFAULT_CONNECTION_NAME,
    ConnectionFailure,
)
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from . import aliases, compat
from .aliases import async_aliases, is_async_connection
from .bridge import in_bridge
from .class_collections import forget_alias
from .facades import ClientFacade, DatabaseFacade

__all__ = [
    "DEFAULT_MAX_IDLE_TIME_MS",
    "DEFAULT_UUID_REPRESENTATION",
    "connect_async",
    "disconnect_all_async",
    "disconnect_async",
    "get_async_connection",
    "get_async_db",
    "is_async_connection",
]

_facade_dbs: dict[str, DatabaseFacade] = {}
_facade_clients: dict[str, ClientFacade] = {}

# Settings that select the database or are ours, not the driver's.
_NOT_FOR_DRIVER = frozenset({"name", "mongo_client_class"})
_RENAMED = {"authentication_source": "authSource", "authentication_mechanism": "authMechanism"}

#: What ``connect_async`` stores UUIDs as when neither its arguments nor the URI say:
#: BSON binary subtype 4, which every MongoDB driver reads the same way.
DEFAULT_UUID_REPRESENTATION = "standard"


DEFAULT_MAX_IDLE_TIME_MS = 60_000
"""``maxIdleTimeMS`` unless the application sets its own (``None`` for no limit): a
pooled connection idle longer is replaced before use.  Servers, proxies and load
balancers drop idle connections (SecantusDB after 300 s, cloud load balancers after
240-350 s), and PyMongo's async pool does not notice until a command sent on one fails
with ``AutoReconnect: connection is already closed``, which inside a transaction is not
retried.  One minute keeps well below those limits."""


def _idle_limit_given(settings: dict[str, Any]) -> bool:
    if any(key.lower() == "maxidletimems" for key in settings):
        return True
    hosts = settings.get("host") or []
    hosts = [hosts] if isinstance(hosts, str) else hosts
    return any("maxidletimems=" in str(host).lower() for host in hosts)


def _driver_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    kwargs = {
        _RENAMED.get(key, key): value
        for key, value in settings.items()
        if key not in _NOT_FOR_DRIVER and value is not None
    }
    try:
        import mongoengine
        from pymongo.driver_info import DriverInfo

        kwargs.setdefault("driver", DriverInfo("MongoEngine-async", mongoengine.__version__))
    except ImportError:  # pragma: no cover - every supported PyMongo has it
        pass
    return kwargs


def _names_uuid_representation(host: Any) -> bool:
    """True when a ``mongodb://`` URI in ``host`` carries a ``uuidRepresentation`` option."""
    hosts = [host] if isinstance(host, str) else list(host or ())
    for uri in hosts:
        if isinstance(uri, str) and "://" in uri:
            options = urlsplit(uri).query.replace(";", "&").split("&")
            if any(option.partition("=")[0].lower() == "uuidrepresentation" for option in options):
                return True
    return False


def _with_uuid_default(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``uuidRepresentation`` set to the default unless already chosen."""
    if any(key.lower() == "uuidrepresentation" for key in kwargs):
        return kwargs
    if _names_uuid_representation(kwargs.get("host")):
        return kwargs
    return {**kwargs, "uuidRepresentation": DEFAULT_UUID_REPRESENTATION}


def _is_mongomock_class(cls: Any) -> bool:
    try:
        import mongomock
    except ImportError:  # pragma: no cover - mongomock is a dependency
        return False
    return isinstance(cls, type) and issubclass(cls, mongomock.MongoClient)


def _new_client(alias: str, settings: dict[str, Any]) -> Any:
    client_class: Any = settings.get("mongo_client_class")
    kwargs = _driver_kwargs(settings)
    try:
        if _is_mongomock_class(client_class):
            from .mongomock_async import AsyncMongomockClient

            kwargs.pop("driver", None)
            zone = kwargs.pop("tzinfo", None)
            if zone is not None and not kwargs.get("tz_aware"):
                raise ValueError("cannot specify tzinfo without also setting tz_aware=True")
            return AsyncMongomockClient(client_class(**kwargs), zone)
        if client_class is None:
            client_class = AsyncMongoClient
        elif not (isinstance(client_class, type) and issubclass(client_class, AsyncMongoClient)):
            raise ConnectionFailure(
                f"connect_async() needs an AsyncMongoClient (or mongomock.MongoClient) class, "
                f"got {client_class!r}; use connect() for a sync client"
            )
        if not _idle_limit_given(settings):
            kwargs["maxIdleTimeMS"] = DEFAULT_MAX_IDLE_TIME_MS
        return client_class(**kwargs)
    except ConnectionFailure:
        raise
    except Exception as exc:
        raise ConnectionFailure(f"Cannot connect to database {alias} :\n{exc}") from exc


def _shared_client(settings: dict[str, Any]) -> Any | None:
    wanted = {k: v for k, v in settings.items() if k != "name"}
    for other_alias, client in aliases.registered_clients().items():
        other = aliases.settings_of(other_alias) or {}
        if {k: v for k, v in other.items() if k != "name"} == wanted:
            return client
    return None


async def connect_async(
    db: str | None = None, alias: str = DEFAULT_CONNECTION_NAME, **kwargs: Any
) -> Any:
    """Register an async alias and return its ``AsyncMongoClient``.

    Takes what :func:`mongoengine.connect` takes.  With
    ``mongo_client_class=mongomock.MongoClient`` the alias is an in-process mongomock
    database driven by the same async API (no server, no transactions).  Connecting
    does no network round trip: the first operation does.  Pooled connections idle
    for :data:`DEFAULT_MAX_IDLE_TIME_MS` are replaced unless ``maxIdleTimeMS`` is given.

    UUIDs are stored as ``uuidRepresentation="standard"`` (BSON binary subtype 4)
    unless a ``uuidRepresentation`` argument or URI option chooses another; MongoEngine's
    own ``connect`` falls back to ``"pythonLegacy"`` with a ``DeprecationWarning``.
    """
    if alias in compat.connection_settings():
        raise ConnectionFailure(
            f"Alias {alias!r} is already registered as a sync connection (a synchronous "
            "connection, not async); use another alias or disconnect() it first"
        )
    settings = compat.get_connection_settings(db, **_with_uuid_default(kwargs))
    registered = aliases.settings_of(alias)
    if registered is not None:
        if registered != settings:
            raise ConnectionFailure(
                f"A different connection with alias `{alias}` was already registered. "
                "Use disconnect_async() first"
            )
        return aliases.client_of(alias)
    client = _shared_client(settings) or _new_client(alias, settings)
    aliases.register(alias, settings, client)
    return client


def get_async_connection(alias: str = DEFAULT_CONNECTION_NAME) -> Any:
    """The ``AsyncMongoClient`` (or mongomock twin) of an async alias."""
    return aliases.client_of(alias)


def get_async_db(alias: str = DEFAULT_CONNECTION_NAME) -> AsyncDatabase[Any]:
    """The ``AsyncDatabase`` of an async alias."""
    return aliases.database_of(alias)  # type: ignore[no-any-return]


def get_facade_db(alias: str) -> DatabaseFacade:
    """The blocking facade of an async alias's database (for code in the bridge)."""
    db = _facade_dbs.get(alias)
    if db is None:
        db = _facade_dbs[alias] = DatabaseFacade(get_async_db(alias))
    return db


def get_facade_client(alias: str) -> ClientFacade:
    """The blocking facade of an async alias's client (for code in the bridge)."""
    facade = _facade_clients.get(alias)
    if facade is None:
        client = get_async_connection(alias)
        for other in _facade_clients.values():  # aliases sharing a client share its facade
            if other.async_target is client:
                facade = other
                break
        else:
            facade = ClientFacade(client)
        _facade_clients[alias] = facade
    return facade


def db_for_alias(alias: str) -> Any:
    """What ``get_db(alias)`` answers for an async alias, depending on the caller."""
    return get_facade_db(alias) if in_bridge() else get_async_db(alias)


def connection_for_alias(alias: str) -> Any:
    """What ``get_connection(alias)`` answers for an async alias."""
    return get_facade_client(alias) if in_bridge() else get_async_connection(alias)


def _forget(alias: str) -> Any | None:
    """Forget ``alias`` everywhere; its client, if no alias still registered shares it."""
    settings, client = aliases.forget(alias)
    _facade_dbs.pop(alias, None)
    _facade_clients.pop(alias, None)
    if settings is None:
        return None
    forget_alias(alias)
    if client is not None and all(
        client is not other for other in aliases.registered_clients().values()
    ):
        return client
    return None


async def disconnect_async(alias: str = DEFAULT_CONNECTION_NAME) -> None:
    """Forget an async alias; close its client unless another alias shares it."""
    client = _forget(alias)
    if client is not None:
        await client.close()


async def _close_all(clients: list[Any]) -> None:
    results = await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def disconnect_all_async() -> None:
    """Disconnect every async alias (sync aliases stay): all are forgotten at once, then
    every client is closed, each once, even if the task is cancelled meanwhile.

    A client that cannot be closed (PyMongo refuses to close one bound to another event
    loop) does not keep the others open; its error is raised after all were tried.
    """
    clients: list[Any] = []
    for alias in sorted(async_aliases()):
        client = _forget(alias)
        if client is not None:
            clients.append(client)
    if clients:
        closing = asyncio.ensure_future(_close_all(clients))
        # if we are cancelled, its error (if any) is not ours to report
        closing.add_done_callback(lambda task: task.cancelled() or task.exception())
        await asyncio.shield(closing)
