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


async def greenlet_spawn(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a bridge greenlet and await every ``await_only``.

    Any ``BaseException`` raised while awaiting (``CancelledError`` included) is thrown
    into the greenlet at the ``await_only`` call site, so ``finally`` blocks in the sync
    code run.  Exceptions from ``fn`` propagate with their type and traceback.
    """
    global _live
    parent = getcurrent()
    child = _BridgeGreenlet(fn, parent)
    # The same Context object as the task (not a copy): values flow both ways.
    child.gr_context = parent.gr_context
    _live += 1
    try:
        result: Any = child.switch(*args, **kwargs)
        while not child.dead:
            try:
                value = await result
            except BaseException:
                result = child.throw(*sys.exc_info())
            else:
                result = child.switch(value)
        return result  # type: ignore[no-any-return]
    finally:
        # Only reachable with a live child if the driver itself was torn down mid-flight
        # (for example ``coroutine.close()``): unwind the sync code so its finally blocks
        # run; any further I/O it attempts is refused.
        for _ in range(8):
            if child.dead:
                break
            pending = child.throw(GreenletExit)
            if iscoroutine(pending):
                pending.close()
        _live -= 1
