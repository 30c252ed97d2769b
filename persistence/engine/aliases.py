"""The registry of async aliases: settings and clients, keyed by alias.

A leaf module (it imports nothing else of the engine), so the connection functions,
the per-class collections, the query counter, the graft and the guard all read the same
registry without importing one another.
"""

from __future__ import annotations

from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME, ConnectionFailure

from . import compat

__all__ = [
    "any_async",
    "async_aliases",
    "client_of",
    "database_of",
    "forget",
    "is_async_connection",
    "register",
    "require",
    "settings_of",
]

_settings: dict[str, dict[str, Any]] = {}
_clients: dict[str, Any] = {}
_databases: dict[str, Any] = {}


def any_async() -> bool:
    """True when at least one async alias is registered (a fast path for the graft)."""
    return bool(_settings)


def is_async_connection(alias: str = DEFAULT_CONNECTION_NAME) -> bool:
    """True when ``alias`` was registered with ``connect_async``."""
    return alias in _settings


def async_aliases() -> frozenset[str]:
    """The registered async aliases."""
    return frozenset(_settings)


def settings_of(alias: str) -> dict[str, Any] | None:
    """The settings ``alias`` was registered with, or None."""
    return _settings.get(alias)


def registered_clients() -> dict[str, Any]:
    """alias -> client of every registered async alias (a copy)."""
    return dict(_clients)


def register(alias: str, settings: dict[str, Any], client: Any) -> None:
    """Record ``alias`` with its settings and client."""
    _settings[alias] = settings
    _clients[alias] = client


def forget(alias: str) -> tuple[dict[str, Any] | None, Any]:
    """Remove ``alias``; return the settings and client it had (None if unknown)."""
    _databases.pop(alias, None)
    return _settings.pop(alias, None), _clients.pop(alias, None)


def require(alias: str) -> None:
    """Raise ``ConnectionFailure`` unless ``alias`` is a registered async alias."""
    if alias in _settings:
        return
    if alias in compat.connection_settings():  # read each time: tests rebind it
        raise ConnectionFailure(
            f"Alias {alias!r} is a synchronous connection (not async): register it with "
            "connect_async() to use async_ methods"
        )
    if alias == DEFAULT_CONNECTION_NAME:
        raise ConnectionFailure("You have not defined a default connection")
    raise ConnectionFailure(f'Connection with alias "{alias}" has not been defined')


def client_of(alias: str) -> Any:
    """The client of an async alias."""
    require(alias)
    return _clients[alias]


def database_of(alias: str) -> Any:
    """The ``AsyncDatabase`` of an async alias (cached)."""
    db = _databases.get(alias)
    if db is None:
        require(alias)
        db = _databases[alias] = _clients[alias][_settings[alias]["name"]]
    return db
