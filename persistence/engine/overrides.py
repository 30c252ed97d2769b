"""Task-local overrides of a Document class's alias, collection name and subclass query.

``async_switch_db``/``async_switch_collection``/``async_no_sub_classes`` record their
change here, in a ContextVar, instead of mutating the class as MongoEngine's sync context
managers do; so only the task that entered them (and its bridge greenlets) is affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

__all__ = ["Override", "active", "override"]


class Override(NamedTuple):
    alias: str | None = None
    collection: str | None = None
    no_sub_classes: bool = False


_EMPTY: dict[type, Override] = {}
_overrides: ContextVar[dict[type, Override]] = ContextVar("persistence_overrides", default=_EMPTY)


def active(cls: type) -> Override | None:
    """The override of ``cls`` in the current task, if any."""
    overrides = _overrides.get()
    return overrides.get(cls) if overrides else None


@contextmanager
def override(cls: Any, **changes: Any) -> Iterator[Any]:
    """Apply ``changes`` to ``cls`` for the current task while the block runs."""
    current = _overrides.get()
    previous = current.get(cls, Override())
    token = _overrides.set({**current, cls: previous._replace(**changes)})
    try:
        yield cls
    finally:
        _overrides.reset(token)
