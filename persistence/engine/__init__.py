"""The async MongoEngine engine: a greenlet bridge over PyMongo's async API."""

# isort: off
# The version check first, before any module reads a MongoEngine or PyMongo internal.
from . import compat as compat

# isort: on
from .bridge import BridgeError, await_only, greenlet_spawn, in_bridge
from .connection import (
    DEFAULT_UUID_REPRESENTATION,
    connect_async,
    disconnect_all_async,
    disconnect_async,
    get_async_connection,
    get_async_db,
    is_async_connection,
)
from .sync_semantics import run_sync
from .transactions import (
    TransactionsNotSupportedError,
    async_run_in_transaction,
    async_transaction,
)

__all__ = [
    "DEFAULT_UUID_REPRESENTATION",
    "BridgeError",
    "TransactionsNotSupportedError",
    "async_run_in_transaction",
    "async_transaction",
    "await_only",
    "connect_async",
    "disconnect_all_async",
    "disconnect_async",
    "get_async_connection",
    "get_async_db",
    "greenlet_spawn",
    "in_bridge",
    "is_async_connection",
    "run_sync",
]
