"""Task-local switches of a Document class's alias, collection name and subclass query.

``async_switch_db``/``async_switch_collection``/``async_no_sub_classes`` record their
change here, in a ContextVar, instead of mutating the class as MongoEngine's sync context
managers do; so only the task that entered them (and its bridge greenlets) is affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

__all__ = ["Switch", "active_switch", "any_switch", "switched"]


class Switch(NamedTuple):
    """What the current task changed for one Document class."""

    alias: str | None = None
    collection: str | None = None
    no_sub_classes: bool = False


_EMPTY: dict[type, Switch] = {}
_switches: ContextVar[dict[type, Switch]] = ContextVar("persistence_switches", default=_EMPTY)


def active_switch(cls: type) -> Switch | None:
    """The switch of ``cls`` in the current task, if any."""
    switches = _switches.get()
    return switches.get(cls) if switches else None


def any_switch() -> bool:
    """True when the current task has switched any class."""
    return bool(_switches.get())


@contextmanager
def switched(cls: Any, **changes: Any) -> Iterator[Any]:
    """Apply ``changes`` to ``cls`` for the current task while the block runs."""
    current = _switches.get()
    previous = current.get(cls, Switch())
    token = _switches.set({**current, cls: previous._replace(**changes)})
    try:
        yield cls
    finally:
        _switches.reset(token)
