"""``run_sync``: unported sync MongoEngine code on async aliases, with sync semantics.

``await run_sync(fn, *args, **kwargs)`` runs ``fn`` in a bridge greenlet, as the
``async_`` twins run MongoEngine's own methods, and also switches the engine to
MongoEngine's sync behaviour for the duration: references dereference on attribute
access, ``LazyReference.fetch()`` loads, ``list(queryset)``, ``len()``, ``repr()`` and
the sync context managers work, all without blocking the event loop (every I/O awaits
on it).  This is SQLAlchemy's ``AsyncSession.run_sync`` for MongoEngine: the first step
when moving a large sync code base, one function at a time.

Outside ``run_sync`` nothing changes: a sync I/O method on an async alias still raises,
naming its ``async_`` twin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from .bridge import greenlet_spawn, in_bridge
from .facades import unwrap

__all__ = ["plain_async_semantics", "run_sync", "sync_semantics"]

T = TypeVar("T")

_active: ContextVar[bool] = ContextVar("persistence_run_sync", default=False)


def sync_semantics() -> bool:
    """True while the caller runs inside :func:`run_sync` (sync MongoEngine behaviour)."""
    return _active.get() and in_bridge()


@contextmanager
def plain_async_semantics() -> Iterator[None]:
    """Inside :func:`run_sync`, give the block the engine's plain async behaviour (what
    an ``async_`` call awaited from a coroutine sees); restored afterwards.  Used where
    sync code awaits a twin (MongoEngine's suite run through the native paths)."""
    token = _active.set(False)
    try:
        yield
    finally:
        _active.reset(token)


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    token = _active.set(True)
    try:
        return unwrap(fn(*args, **kwargs))  # type: ignore[no-any-return]
    finally:
        _active.reset(token)


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the sync function ``fn(*args, **kwargs)`` with sync MongoEngine semantics.

    Returns what ``fn`` returns (a facade it returns comes back as PyMongo's async
    object) and raises what it raises.
    """
    if not callable(fn):
        raise TypeError(f"run_sync() needs a callable, got {fn!r}")
    return await greenlet_spawn(_call, fn, args, kwargs)
