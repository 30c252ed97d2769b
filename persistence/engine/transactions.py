"""``async_run_in_transaction``: a transaction joined by every async operation in the block.

The session is bound to the alias's client in the task's context (:mod:`.sessions`), so
every facade call and async-native read on any Document class whose alias uses that
client runs inside the transaction without passing ``session=`` around.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME
from mongoengine.errors import OperationError

from .connection import get_async_connection
from .mongomock_async import AsyncMongomockClient
from .sessions import bind_session, session_for

__all__ = ["TransactionsNotSupportedError", "async_run_in_transaction"]


class TransactionsNotSupportedError(OperationError):
    """The alias's backend cannot run transactions (mongomock, a standalone server)."""


@asynccontextmanager
async def async_run_in_transaction(
    alias: str = DEFAULT_CONNECTION_NAME,
    session_kwargs: dict[str, Any] | None = None,
    transaction_kwargs: dict[str, Any] | None = None,
) -> AsyncIterator[Any]:
    """Run the block in one transaction on ``alias``'s client; yields the session.

    Commits when the block exits normally; aborts when it raises, and the exception
    propagates.  A second transaction on the same client inside the block raises
    :class:`~mongoengine.errors.OperationError`.
    """
    client = get_async_connection(alias)
    if isinstance(client, AsyncMongomockClient):
        raise TransactionsNotSupportedError(
            f"Alias {alias!r} is a mongomock connection, which has no transactions"
        )
    if session_for(client) is not None:
        raise OperationError(
            f"A transaction is already running on the client of alias {alias!r} in this "
            "task; nested async_run_in_transaction() on the same client is not supported"
        )
    session = client.start_session(**(session_kwargs or {}))
    try:
        await session.start_transaction(**(transaction_kwargs or {}))
        with bind_session(client, session):
            try:
                yield session
            except BaseException:
                if session.in_transaction:
                    await asyncio.shield(session.abort_transaction())
                raise
        await session.commit_transaction()
    finally:
        await asyncio.shield(session.end_session())
