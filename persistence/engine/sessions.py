"""Task-local registry of the client sessions that async operations must join.

A transaction started by ``async_run_in_transaction`` binds its session to its client for
the current task (and the bridge greenlets it spawns, which share the task's Context).
Every facade call and async-native operation on that client picks the session up from
here, so callers never thread ``session=`` through their code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["bind_session", "has_sessions", "session_for", "without_sessions"]

_EMPTY: dict[int, Any] = {}
_sessions: ContextVar[dict[int, Any]] = ContextVar("persistence_sessions", default=_EMPTY)


def has_sessions() -> bool:
    """True when any session is bound in this task (else :func:`session_for` is None
    for every client, and callers may skip finding the client)."""
    return bool(_sessions.get())


def session_for(client: object) -> Any | None:
    """The session bound to ``client`` in this task, if any (an ended one is not: its
    block was left from another Context, see :func:`bind_session`)."""
    sessions = _sessions.get()
    if not sessions:
        return None
    session = sessions.get(id(client))
    if session is None or session.has_ended:
        return None
    return session


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
        yield
    finally:
        try:
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
