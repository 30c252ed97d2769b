"""Task-local switches of a Document class's alias, collection name and subclass query.

``async_switch_db``/``async_switch_collection``/``async_no_sub_classes`` record their
change here, in a ContextVar, instead of mutating the class as MongoEngine's sync context
managers do; so only the task that entered them (and its bridge greenlets, and tasks it
starts inside the block) is affected.

A block is normally left in the Context it was entered in, and the switch is undone by
resetting the ContextVar.  It can be left from another one: an async generator that
holds the block and is dropped unfinished is closed by the event loop in a task of its
own.  There the ContextVar cannot be reset, so the block's entry is marked closed
instead, and the task that entered the block stops seeing it.
"""

from __future__ import annotations

import asyncio
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


class _Entry:
    """One block's switch of one class, and the switch it was entered over."""

    __slots__ = ("open", "owner", "previous", "switch")

    def __init__(self, switch: Switch, previous: _Entry | None, owner: Any) -> None:
        self.switch = switch
        self.previous = previous
        self.owner = owner  # the task that entered the block
        self.open = True


_EMPTY: dict[type, _Entry] = {}
_switches: ContextVar[dict[type, _Entry]] = ContextVar("persistence_switches", default=_EMPTY)


def _current_task() -> Any:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None


def _visible(entry: _Entry | None) -> _Entry | None:
    # A closed entry is still carried by the Context of the task that entered its block
    # when the block was left from another Context: that task must not see it.  Tasks
    # started inside the block keep the switch they were started with.
    while entry is not None and not entry.open and entry.owner is _current_task():
        entry = entry.previous
    return entry


def active_switch(cls: type) -> Switch | None:
    """The switch of ``cls`` in the current task, if any."""
    switches = _switches.get()
    if not switches:
        return None
    entry = _visible(switches.get(cls))
    return None if entry is None else entry.switch


def any_switch() -> bool:
    """True when the current task may have switched a class (False: surely none)."""
    return bool(_switches.get())


@contextmanager
def switched(cls: Any, **changes: Any) -> Iterator[Any]:
    """Apply ``changes`` to ``cls`` for the current task while the block runs.

    Leaving the block never raises: whatever the block raised propagates unchanged.
    """
    current = _switches.get()
    previous = _visible(current.get(cls))
    base = previous.switch if previous is not None else Switch()
    entry = _Entry(base._replace(**changes), previous, _current_task())
    token = _switches.set({**current, cls: entry})
    try:
        yield cls
    finally:
        entry.open = False
        try:
            _switches.reset(token)
        except ValueError:  # left from another Context: the closed entry is ignored
            pass
