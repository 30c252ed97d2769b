"""``async_query_counter``: how many commands the current task sent to an alias's database.

MongoEngine's ``query_counter`` reads the server's profiler, which counts every client's
queries.  This twin counts the commands the task inside the block (its bridge greenlets
included) sends to the alias's database, so concurrent tasks do not disturb each other's
counts.  Handshakes, heartbeats, ``killCursors``, ``endSessions`` and transaction
commit/abort are not queries and are not counted.

It listens to PyMongo's structured command log (the ``pymongo.command`` logger, DEBUG
"Command started" records) only while a counter is open anywhere in the process: a
command listener installed on the client would make PyMongo build its monitoring
events for every command of every operation (about 25 µs each), counter or not.  While
counters are open the logger is set to DEBUG if it was not; the records it would not
have emitted without the counters are dropped after counting, and the logger's level is
restored when the last counter closes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from mongoengine.connection import DEFAULT_CONNECTION_NAME

from . import aliases

__all__ = ["AsyncQueryCounter", "async_query_counter", "uncounted"]

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
_STARTED = "Command started"

_active: ContextVar[tuple[AsyncQueryCounter, ...]] = ContextVar(
    "persistence_query_counters", default=()
)


class _CommandLogCounter(logging.Filter):
    """Counts the "Command started" records of the ``pymongo.command`` logger for the
    counters open in the current task; attached only while any counter is open."""

    def __init__(self) -> None:
        super().__init__()
        self.open = 0  # counters open in the whole process
        self.logger = logging.getLogger("pymongo.command")
        self.passes = True  # whether the records were wanted before the counters
        self.raised_from: int | None = None
        self.lock = threading.Lock()  # counters may open and close on several threads

    def filter(self, record: logging.LogRecord) -> bool:
        counters = _active.get()
        if counters and record.levelno == logging.DEBUG:
            self._count(record, counters)
        return self.passes

    @staticmethod
    def _count(record: logging.LogRecord, counters: tuple[AsyncQueryCounter, ...]) -> None:
        try:
            fields = json.loads(record.getMessage())
        except ValueError:
            return
        if not isinstance(fields, dict) or fields.get("message") != _STARTED:
            return
        if fields.get("commandName") in _NOT_QUERIES:
            return
        database = fields.get("databaseName")
        for counter in counters:
            if counter.db_name == database and counter._open:
                counter.count += 1

    def opened(self) -> None:
        with self.lock:
            self.open += 1
            if self.open == 1:
                self._attach()

    def closed(self) -> None:
        with self.lock:
            self.open -= 1
            if self.open == 0:
                self._detach()

    def _attach(self) -> None:
        logger = self.logger
        self.passes = logger.isEnabledFor(logging.DEBUG)
        if not self.passes:
            self.raised_from = logger.level
            logger.setLevel(logging.DEBUG)
        logger.addFilter(self)

    def _detach(self) -> None:
        logger = self.logger
        logger.removeFilter(self)
        if self.raised_from is not None and logger.level == logging.DEBUG:
            logger.setLevel(self.raised_from)
        self.raised_from = None
        self.passes = True


_command_log = _CommandLogCounter()


@contextlib.contextmanager
def uncounted() -> Iterator[None]:
    """Commands sent in the block count for no counter (checked mode's second reads)."""
    token = _active.set(())
    try:
        yield
    finally:
        _active.reset(token)


class AsyncQueryCounter:
    """``async with async_query_counter() as q:`` then compare ``q`` with an int."""

    def __init__(self, alias: str = DEFAULT_CONNECTION_NAME) -> None:
        self.alias = alias
        self.db_name = aliases.database_of(alias).name
        self.count = 0
        self._token: Any = None
        self._open = False

    async def __aenter__(self) -> AsyncQueryCounter:
        if self._open:
            raise RuntimeError("this query counter is already open: make a new one")
        self.count = 0
        self._open = True
        self._token = _active.set((*_active.get(), self))
        _command_log.opened()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop counting; never raises, so an exception from the block propagates."""
        if not self._open:
            return
        self._open = False  # counts no more, wherever the Context still carries it
        _command_log.closed()
        try:
            _active.reset(self._token)
        except ValueError:  # left from another Context (an async generator closed by
            pass  # the event loop): the closed counter stays there, counting nothing

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
