"""``async_run_in_transaction``: a transaction joined by every async operation in the block.

The session is bound to the alias's client in the task's context (:mod:`.sessions`), so
every facade call and async-native read on any Document class whose alias uses that
client runs inside the transaction without passing ``session=`` around.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from mongoengine.connection import DEFAULT_CONNECTION_NAME
from mongoengine.errors import OperationError
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from .connection import get_async_connection
from .mongomock_async import AsyncMongomockClient
from .sessions import bind_session, session_for

__all__ = [
    "DURABLE",
    "TransactionsNotSupportedError",
    "async_run_in_transaction",
    "async_transaction",
    "open_transaction_sessions",
]

T = TypeVar("T")

DURABLE = WriteConcern(w="majority", j=True)
"""The default commit write concern: acknowledged once journaled on a majority, so an
acknowledged commit survives a crash of the server (pass ``write_concern=None`` to take
the client's own, or any other ``WriteConcern``)."""


def _transaction_options(
    transaction_kwargs: dict[str, Any] | None, write_concern: WriteConcern | None
) -> dict[str, Any]:
    """``start_transaction`` arguments: ``write_concern`` unless the caller's own say."""
    options = dict(transaction_kwargs or {})
    if write_concern is not None:
        options.setdefault("write_concern", write_concern)
    return options

_open_sessions = 0


def open_transaction_sessions() -> int:
    """Sessions started for transactions here and not yet ended (0 when all is quiet)."""
    return _open_sessions


def _start(client: Any, session_kwargs: dict[str, Any] | None) -> Any:
    global _open_sessions
    session = client.start_session(**(session_kwargs or {}))
    _open_sessions += 1
    return session


_cleanups: set[asyncio.Task[None]] = set()


def _interrupted(exc: BaseException) -> bool:
    """An error after which the client cannot know the server's transaction state."""
    if isinstance(exc, (asyncio.CancelledError, TimeoutError, ConnectionFailure)):
        return True
    return isinstance(exc, PyMongoError) and bool(getattr(exc, "timeout", False))


async def _cleanup(client: Any, session: Any, uncertain: bool) -> None:
    """Abort what is left of the transaction and end the session, whatever happens.

    After an interruption (a cancellation, a timeout, a lost connection) the client
    cannot know whether the server still holds the transaction (a command may have been
    sent and its reply never read), so the server session is also killed, which aborts
    any transaction it still has; otherwise that transaction would pin its snapshot and
    locks until it expires.
    """
    global _open_sessions
    try:
        if session.in_transaction:
            with contextlib.suppress(Exception):
                await session.abort_transaction()
        if uncertain:
            with contextlib.suppress(Exception):
                await client.admin.command("killSessions", [session.session_id])
    finally:
        try:
            with contextlib.suppress(Exception):
                await session.end_session()
        finally:
            _open_sessions -= 1


async def _end(client: Any, session: Any, uncertain: bool) -> None:
    """Run :func:`_cleanup` to completion even if the awaiting task is cancelled."""
    task = asyncio.ensure_future(_cleanup(client, session, uncertain))
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)
    await asyncio.shield(task)


# id(client) -> (a weak reference to it, whether its deployment runs transactions)
_CAPABLE: dict[int, tuple[weakref.ref[Any], bool]] = {}


class TransactionsNotSupportedError(OperationError):  # type: ignore[misc]
    """The alias's backend cannot run transactions (mongomock, a standalone server)."""


@asynccontextmanager
async def async_run_in_transaction(
    alias: str = DEFAULT_CONNECTION_NAME,
    session_kwargs: dict[str, Any] | None = None,
    transaction_kwargs: dict[str, Any] | None = None,
    write_concern: WriteConcern | None = DURABLE,
) -> AsyncIterator[Any]:
    """Run the block in one transaction on ``alias``'s client; yields the session.

    Commits when the block exits normally, with ``write_concern`` (durable by default:
    :data:`DURABLE`); aborts when it raises, and the exception propagates.  A second
    transaction on the same client inside the block raises
    :class:`~mongoengine.errors.OperationError`.
    """
    client = await _transaction_client(alias)
    session = _start(client, session_kwargs)
    uncertain = False
    try:
        await session.start_transaction(**_transaction_options(transaction_kwargs, write_concern))
        with bind_session(client, session):
            yield session
        await session.commit_transaction()
    except BaseException as exc:
        uncertain = _interrupted(exc)
        raise
    finally:
        await _end(client, session, uncertain)


async def _transaction_client(alias: str) -> Any:
    """The alias's client, checked: it can run a transaction and none runs in this task."""
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
    known = _CAPABLE.get(id(client))
    if known is None or known[0]() is not client:
        hello = await client.admin.command("hello")
        capable = "setName" in hello or hello.get("msg") == "isdbgrid"
        _CAPABLE[id(client)] = known = (weakref.ref(client), capable)
    if not known[1]:
        raise TransactionsNotSupportedError(
            f"Alias {alias!r} is connected to a standalone server: transactions need a "
            "replica set or a sharded cluster"
        )
    return client


def _has_label(exc: BaseException | None, label: str) -> bool:
    """True if ``exc`` or an error it was raised from carries the PyMongo ``label``
    (MongoEngine re-raises PyMongo's errors as its own, chained)."""
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, PyMongoError) and exc.has_error_label(label):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))


async def async_transaction(
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    alias: str = DEFAULT_CONNECTION_NAME,
    max_retries: int = 10,
    session_kwargs: dict[str, Any] | None = None,
    transaction_kwargs: dict[str, Any] | None = None,
    write_concern: WriteConcern | None = DURABLE,
    **kwargs: Any,
) -> T:
    """``await fn(*args, **kwargs)`` in a transaction, retried as PyMongo's
    ``with_transaction`` retries: the whole function again on a
    ``TransientTransactionError`` (a write conflict, a lost primary), the commit alone on
    ``UnknownTransactionCommitResult``; at most ``max_retries`` times each, with a short
    jittered backoff.  Commits with ``write_concern`` (:data:`DURABLE` by default).
    Returns what ``fn`` returned; other errors abort and propagate.
    """
    client = await _transaction_client(alias)
    attempt = 0
    while True:
        session = _start(client, session_kwargs)
        uncertain = False
        try:
            await session.start_transaction(
                **_transaction_options(transaction_kwargs, write_concern)
            )
            try:
                with bind_session(client, session):
                    result = await fn(*args, **kwargs)
            except BaseException as exc:
                uncertain = _interrupted(exc)
                if not (_has_label(exc, "TransientTransactionError") and attempt < max_retries):
                    raise
            else:
                commits = 0
                while True:
                    try:
                        await session.commit_transaction()
                        return result
                    except BaseException as exc:
                        uncertain = _interrupted(exc)
                        if not isinstance(exc, PyMongoError):
                            raise
                        if (
                            _has_label(exc, "UnknownTransactionCommitResult")
                            and commits < max_retries
                        ):
                            commits += 1
                            continue
                        if _has_label(exc, "TransientTransactionError") and attempt < max_retries:
                            break
                        raise
        finally:
            # aborts what is left and ends the session before any retry waits
            await _end(client, session, uncertain)
        attempt += 1
        await _backoff(attempt)
