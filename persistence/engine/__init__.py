"""The async MongoEngine engine: a greenlet bridge over PyMongo's async API.

``import persistence.engine`` is the one activating line: it grafts the async API onto
the unmodified MongoEngine (``connect_async``, ``async_save``, ``async for`` over
querysets...), once; importing it again does nothing more.
"""

# isort: off
# The version check first, before any module reads a MongoEngine or PyMongo internal.
from . import compat as compat

# isort: on
from . import graft as _graft

_graft.activate()

from .bridge import BridgeError, await_only, greenlet_spawn, in_bridge  # noqa: E402
from .connection import (  # noqa: E402
    DEFAULT_UUID_REPRESENTATION,
    connect_async,
    disconnect_all_async,
    disconnect_async,
    get_async_connection,
    get_async_db,
    is_async_connection,
)
from .sync_semantics import run_sync  # noqa: E402
from .transactions import (  # noqa: E402
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
