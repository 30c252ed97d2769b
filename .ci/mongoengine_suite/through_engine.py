"""pytest plugin: run MongoEngine's sync test suite through the async engine.

Every connection the suite makes becomes an async alias (``connect``/``register_connection``
call ``connect_async``; ``disconnect`` calls ``disconnect_async``), and every test (its
setup, body and teardown) runs as sync code inside ``run_sync`` on one session-wide
event loop, the way SQLAlchemy runs its sync suite through ``greenlet_spawn``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mongoengine
import pytest
from mongoengine import connection as me_connection
from mongoengine.connection import DEFAULT_CONNECTION_NAME

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import (
    aliases,
    await_only,
    connect_async,
    disconnect_all_async,
    disconnect_async,
    is_async_connection,
    run_sync,
)

_loop: asyncio.AbstractEventLoop | None = None
_sync_disconnect_all = me_connection.disconnect_all
_registry_seen = me_connection._connection_settings
_kept_open: list[Any] = []
_made = {"async": 0, "sync": 0}  # connections registered through the engine / by MongoEngine
_create_sync_client = me_connection._create_connection


def _count_sync_client(*args: Any, **kwargs: Any) -> Any:
    _made["sync"] += 1
    return _create_sync_client(*args, **kwargs)


def _follow_registry_reset() -> None:
    """Some tests reset MongoEngine's private registry by rebinding its dicts
    (``connection._connection_settings = {}``): forget the async aliases likewise."""
    global _registry_seen
    if me_connection._connection_settings is not _registry_seen:
        _registry_seen = me_connection._connection_settings
        # As in sync MongoEngine the forgotten clients stay open (the test may hold one).
        for client in aliases.registered_clients().values():
            if client not in _kept_open:
                try:
                    client.close = _keep_open
                except AttributeError:  # mongomock's twin: nothing to keep open
                    continue
                _kept_open.append(client)
        await_only(disconnect_all_async())


async def _keep_open() -> None:
    return None


def connect(db: Any = None, alias: str = DEFAULT_CONNECTION_NAME, **kwargs: Any) -> Any:
    _follow_registry_reset()
    await_only(connect_async(db, alias, **kwargs))
    _made["async"] += 1
    return me_connection.get_connection(alias)


def register_connection(alias: str, db: Any = None, **kwargs: Any) -> None:
    """Like MongoEngine's: registering again replaces the alias's settings."""
    _follow_registry_reset()
    if is_async_connection(alias):
        await_only(disconnect_async(alias))
    await_only(connect_async(db, alias, **kwargs))
    _made["async"] += 1


def disconnect(alias: str = DEFAULT_CONNECTION_NAME) -> None:
    if is_async_connection(alias):
        await_only(disconnect_async(alias))


def disconnect_all() -> None:
    await_only(disconnect_all_async())
    _sync_disconnect_all()


def pytest_configure(config: Any) -> None:
    global _loop
    _loop = asyncio.new_event_loop()
    for module in (mongoengine, me_connection):
        module.connect = connect
        module.register_connection = register_connection
        module.disconnect = disconnect
        module.disconnect_all = disconnect_all
    me_connection._create_connection = _count_sync_client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"through the engine: {_made['async']} connections made with connect_async, "
        f"{_made['sync']} sync clients made by MongoEngine"
    )


def pytest_unconfigure(config: Any) -> None:
    if _loop is not None:
        _loop.run_until_complete(disconnect_all_async())
        for client in _kept_open:
            del client.close
            _loop.run_until_complete(client.close())
        _loop.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> bool:
    from _pytest.runner import runtestprotocol

    assert _loop is not None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    _loop.run_until_complete(run_sync(runtestprotocol, item, nextitem=nextitem, log=True))
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
