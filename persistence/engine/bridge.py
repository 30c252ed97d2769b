"""The one seam between sync and async: a greenlet bridge.

``greenlet_spawn(fn, *args)`` runs ordinary blocking-style code (MongoEngine's own
``save``, delete rules, signals, ...) inside a child greenlet.  Whenever that code needs
I/O it calls ``await_only(awaitable)``, which switches back to the parent (the asyncio
task), where the awaitable is really awaited; the result, or the exception, is sent back
into the greenlet at the call site.  The child greenlet runs in the task's own
``contextvars.Context``, so context variables (sessions, ``pymongo.timeout()``, task-local
switches) are shared both ways.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from inspect import iscoroutine
from typing import Any, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

__all__ = [
    "BridgeError",
    "await_only",
    "greenlet_spawn",
    "in_bridge",
    "live_bridge_greenlets",
]

T = TypeVar("T")

_live = 0


class BridgeError(RuntimeError):
    """Raised when blocking-style I/O is attempted outside ``greenlet_spawn``."""


class _BridgeGreenlet(greenlet):  # type: ignore[misc]
    """A greenlet that runs sync code on behalf of an awaiting asyncio task."""

    __slots__ = ()
    is_bridge = True


def in_bridge() -> bool:
    """True when the caller runs inside a bridge greenlet (sync I/O is allowed)."""
    return getattr(getcurrent(), "is_bridge", False)


def live_bridge_greenlets() -> int:
    """How many bridge greenlets have started and not yet finished."""
    return _live


def _describe(awaitable: object) -> str:
    code = getattr(awaitable, "cr_code", None)
    if code is not None:
        return f"{code.co_qualname}()"
    return type(awaitable).__name__


def await_only(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` from sync code running under :func:`greenlet_spawn`.

    Outside the bridge the awaitable is closed (no "never awaited" warning) and a
    :class:`BridgeError` explains what to do instead.
    """
    current = getcurrent()
    if not getattr(current, "is_bridge", False):
        name = _describe(awaitable)
        if iscoroutine(awaitable):
            awaitable.close()
        raise BridgeError(
            f"{name} needs the event loop, but it was called from plain sync code. "
            "Call the async_ method (for example `await doc.async_save()`) or run the "
            "sync code with `await greenlet_spawn(fn, ...)`."
        )
    return current.parent.switch(awaitable)  # type: ignore[no-any-return]


class _Done:
    """What a worker hands back when its job ends: the result, or the exception."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


class _Worker(_BridgeGreenlet):
    """A bridge greenlet that runs one job after another.

    Starting a fresh greenlet costs far more than its switch: CPython gives it a new
    frame data stack, whose memory is mapped and touched anew, and that cost showed up as
    about 40 µs per operation in the benchmarks.  Idle workers wait in a small pool.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(self._serve)

    def _serve(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        while True:
            try:
                done = _Done(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting task, which re-raises
                done = _Done(error=exc)
            fn = args = kwargs = None  # type: ignore[assignment]
            if isinstance(done.error, GreenletExit):
                return done  # torn down: this worker ends
            fn, args, kwargs = self.parent.switch(done)


class _Idle(threading.local):
    """Idle workers of this thread (a greenlet cannot run on another thread)."""

    def __init__(self) -> None:
        self.workers: list[_Worker] = []


_idle = _Idle()
_MAX_IDLE = 64


async def greenlet_spawn(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a bridge greenlet and await every ``await_only``.

    Any ``BaseException`` raised while awaiting (``CancelledError`` included) is thrown
    into the greenlet at the ``await_only`` call site, so ``finally`` blocks in the sync
    code run.  Exceptions from ``fn`` propagate with their type and traceback.
    """
    global _live
    parent = getcurrent()
    idle = _idle.workers
    worker = idle.pop() if idle else _Worker()
    worker.parent = parent
    # The same Context object as the task (not a copy): values flow both ways.
    worker.gr_context = parent.gr_context
    _live += 1
    finished = False
    try:
        result: Any = worker.switch(fn, args, kwargs)
        while not isinstance(result, _Done):
            try:
                value = await result
            except BaseException:
                result = worker.throw(*sys.exc_info())
            else:
                result = worker.switch(value)
        finished = True
        if result.error is not None:
            error = result.error
            result = None
            raise error
        return result.value  # type: ignore[no-any-return]
    finally:
        if finished and not worker.dead and len(idle) < _MAX_IDLE:
            worker.gr_context = None
            idle.append(worker)
        elif not finished:
            # Only reachable if the driver itself was torn down mid-flight (for example
            # ``coroutine.close()``): unwind the sync code so its finally blocks run;
            # any further I/O it attempts is refused.
            for _ in range(8):
                if worker.dead:
                    break
                pending = worker.throw(GreenletExit)
                if isinstance(pending, _Done):
                    break
                if iscoroutine(pending):
                    pending.close()
        _live -= 1
