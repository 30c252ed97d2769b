"""``async_query_counter``: how many commands the current task sent to an alias's database.

MongoEngine's ``query_counter`` reads the server's profiler, which counts every client's
queries.  This twin counts with a PyMongo command listener that ``connect_async`` gives
every async client, and only the commands of the task inside the block (its bridge
greenlets included), so concurrent tasks do not disturb each other's counts.
Handshakes, heartbeats, ``killCursors``, ``endSessions`` and transaction commit/abort
are not queries and are not counted.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import TracebackType
from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME
from pymongo import monitoring

from . import aliases

__all__ = ["AsyncQueryCounter", "CountingListener", "async_query_counter"]

_NOT_QUERIES = frozenset(
    {
        "abortTransaction",
        "buildInfo",
        "commitTransaction",
        "endSessions",
        "hello",
        "isMaster",
        "ismaster",
        "killCursors",
        "ping",
        "saslContinue",
        "saslStart",
    }
)

_active: ContextVar[tuple[AsyncQueryCounter, ...]] = ContextVar(
    "persistence_query_counters", default=()
)


class CountingListener(monitoring.CommandListener):
    """Adds each command the current task starts to its active counters."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        counters = _active.get()
        if counters and event.command_name not in _NOT_QUERIES:
            for counter in counters:
                if counter.db_name == event.database_name:
                    counter.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


class AsyncQueryCounter:
    """``async with async_query_counter() as q:`` then compare ``q`` with an int."""

    def __init__(self, alias: str = DEFAULT_CONNECTION_NAME) -> None:
        self.alias = alias
        self.db_name = aliases.database_of(alias).name
        self.count = 0
        self._token: Any = None

    async def __aenter__(self) -> AsyncQueryCounter:
        self.count = 0
        self._token = _active.set((*_active.get(), self))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.reset(self._token)

    def __int__(self) -> int:
        return self.count

    def __eq__(self, value: object) -> bool:
        return self.count == value

    def __ne__(self, value: object) -> bool:
        return self.count != value

    def __lt__(self, value: int) -> bool:
        return self.count < value

    def __le__(self, value: int) -> bool:
        return self.count <= value

    def __gt__(self, value: int) -> bool:
        return self.count > value

    def __ge__(self, value: int) -> bool:
        return self.count >= value

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{self.count}"


def async_query_counter(alias: str = DEFAULT_CONNECTION_NAME) -> AsyncQueryCounter:
    """A task-local counter of the queries sent to ``alias``'s database in the block."""
    return AsyncQueryCounter(alias)
