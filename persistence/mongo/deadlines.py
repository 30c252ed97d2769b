"""Bounds on how long the unit of work waits for an unreachable server.

:class:`bounded` is a driver deadline (``pymongo.timeout``) that never loses a
cancellation: under a deadline PyMongo sends through ``asyncio.wait_for(...,
timeout=...)``, and on Python 3.11 ``wait_for`` returns the result instead of raising
when the task is cancelled in the same moment its awaitable completes, so the cancelled
task would go on; ``bounded`` notices (the task's ``cancelling()`` count grew while
nothing was raised) and raises ``CancelledError`` when the block ends.  It serves the
rare waits (a ping to an unreachable server, settling a lost commit answer).

:class:`outage_watch` serves the hot path (every operation, commit and abort): one timer
that, if the block is still running when it fires and the server is unreachable,
cancels the task and turns the cancellation into ``NetworkTimeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pymongo
from pymongo.errors import NetworkTimeout

__all__ = ["bounded", "outage_watch"]


class bounded:
    """``with bounded(seconds):`` the driver's operations in the block end within
    ``seconds`` (``pymongo.timeout``), and a cancellation of the task is never lost."""

    __slots__ = ("_before", "_task", "_timeout")

    def __init__(self, seconds: float) -> None:
        self._timeout: Any = pymongo.timeout(seconds)
        self._task: asyncio.Task[Any] | None = None
        self._before = 0

    def __enter__(self) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running event loop
            task = None
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        if cancelling is not None:
            self._task, self._before = task, cancelling()
        self._timeout.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timeout.__exit__(exc_type, exc, tb)
        task = self._task
        if exc_type is None and task is not None and task.cancelling() > self._before:
            raise asyncio.CancelledError  # the driver's wait_for swallowed it


class outage_watch:
    """``with outage_watch(seconds, reachable):`` the driver's work in the block ends
    within ``seconds`` if the server is unreachable by then (``reachable()`` False):
    the task is cancelled and the block raises ``NetworkTimeout`` instead.  An
    operation still running on a reachable server is left alone (slow is not down).

    Cheaper than a driver deadline (one timer, no ``pymongo.timeout``, under which
    PyMongo wraps every send and receive in timeouts of its own), so it bounds the
    operations of the hot path; a cancellation of the task by anyone else is kept.
    """

    __slots__ = ("_fired", "_handle", "_reachable", "_seconds", "_task")

    def __init__(self, seconds: float, reachable: Callable[[], bool]) -> None:
        self._seconds = seconds
        self._reachable = reachable
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def __enter__(self) -> None:
        self._task = asyncio.current_task()
        if self._task is not None:
            self._handle = asyncio.get_running_loop().call_later(self._seconds, self._expire)

    @property
    def fired(self) -> bool:
        """True once the watch cancelled the block."""
        return self._fired

    def _expire(self) -> None:
        if self._task is None or self._task.done() or self._reachable():
            return
        self._fired = True
        self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if not self._fired:
            return
        task = self._task
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()
            if task is not None and task.cancelling():  # cancelled by someone else too
                return
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            raise NetworkTimeout(
                f"the server stayed unreachable for {self._seconds:g} s (the unit of work's "
                "outage budget)"
            ) from exc
