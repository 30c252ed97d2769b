"""A deadline on the driver's work (``pymongo.timeout``) that never loses a cancellation.

Under a deadline PyMongo sends through ``asyncio.wait_for(..., timeout=...)``, and on
Python 3.11 ``wait_for`` returns the result instead of raising when the task is
cancelled in the same moment its awaitable completes: the cancellation is lost and the
cancelled task goes on.  :func:`bounded` notices (the task's ``cancelling()`` count grew
while nothing was raised) and raises ``CancelledError`` when the block ends, as if the
cancellation had come just after it.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import pymongo

__all__ = ["bounded"]


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
