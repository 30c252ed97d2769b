"""Task-local registry of the client sessions that async operations must join.

A transaction started by ``async_run_in_transaction`` binds its session to its client for
the current task (and the bridge greenlets it spawns, which share the task's Context).
Every facade call and async-native operation on that client picks the session up from
here, so callers never thread ``session=`` through their code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "bind_session",
    "bound_by_another_task",
    "has_sessions",
    "joined_by_other_code",
    "layer_reads",
    "session_for",
    "without_sessions",
]

_EMPTY: dict[int, Any] = {}
_sessions: ContextVar[dict[int, Any]] = ContextVar("persistence_sessions", default=_EMPTY)
_binder: ContextVar[object] = ContextVar("persistence_sessions_binder", default=None)
"""The task that bound the latest session (a task created in the block inherits both)."""
_layer_reading: ContextVar[bool] = ContextVar("persistence_layer_reading", default=False)
"""True while a repository read of the layer runs (see :func:`layer_reads`)."""
_joined_by_other: ContextVar[set[int] | None] = ContextVar(
    "persistence_sessions_joined_by_other_code", default=None
)
"""Ids of the bound sessions that an operation other than a layer's read joined."""


def has_sessions() -> bool:
    """True when any session is bound in this task (else :func:`session_for` is None
    for every client, and callers may skip finding the client)."""
    return bool(_sessions.get())


def bound_by_another_task() -> bool:
    """True when sessions are bound here by another task: this task was created inside
    that task's transaction block (its operations would join that transaction)."""
    if not _sessions.get():
        return False
    try:
        current = asyncio.current_task()
    except RuntimeError:  # no running event loop
        return False
    return _binder.get() is not current


def session_for(client: object) -> Any | None:
    """The session bound to ``client`` in this task, if any (an ended one is not: its
    block was left from another Context, see :func:`bind_session`)."""
    sessions = _sessions.get()
    if not sessions:
        return None
    session = sessions.get(id(client))
    if session is None or session.has_ended:
        return None
    if not _layer_reading.get():
        joined = _joined_by_other.get()
        if joined is not None:
            joined.add(id(session))
    return session


@contextmanager
def layer_reads() -> Iterator[None]:
    """Mark the operations in the block as reads of the layer's repositories: only they
    leave a bound session unmarked by :func:`joined_by_other_code`."""
    token = _layer_reading.set(True)
    try:
        yield
    finally:
        _layer_reading.reset(token)


def joined_by_other_code(session: Any) -> bool:
    """Whether any operation but a layer's read joined ``session`` since it was bound
    in this task: an engine write made directly in a unit of work's block, for one
    (so its commit needs a commit record like a repository write)."""
    joined = _joined_by_other.get()
    return joined is not None and id(session) in joined


@contextmanager
def bind_session(client: object, session: Any) -> Iterator[None]:
    """Bind ``session`` to ``client`` for the current task while the block runs.

    Leaving the block never raises.  Left from another Context (an async generator
    closed by the event loop) the binding cannot be undone where it was made; the
    session ends with its block, and :func:`session_for` ignores an ended session.
    """
    current = _sessions.get()
    token = _sessions.set({**current, id(client): session})
    try:
        binder = asyncio.current_task()
    except RuntimeError:  # no running event loop
        binder = None
    binder_token = _binder.set(binder)
    joined_token = _joined_by_other.set(set())
    try:
        yield
    finally:
        try:
            _joined_by_other.reset(joined_token)
            _binder.reset(binder_token)
            _sessions.reset(token)
        except ValueError:  # left from another Context
            pass


@contextmanager
def without_sessions() -> Iterator[None]:
    """Run the block outside every session bound in this task: its operations join no
    open transaction (a read-only unit of work reads what is committed)."""
    token = _sessions.set(_EMPTY)
    try:
        yield
    finally:
        _sessions.reset(token)
