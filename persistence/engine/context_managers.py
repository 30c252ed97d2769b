"""Async, task-local twins of MongoEngine's context managers.

``async_switch_db``, ``async_switch_collection`` and ``async_no_sub_classes`` record a
task-local switch (:mod:`.task_switches`) rather than mutating the class, and
``async_no_dereference`` relies on MongoEngine's dereferencing counters, which the graft
made task-local.  Each yields the class, as the sync managers do, and affects only the
task that entered it.  Leaving one never raises: an exception from the block propagates
unchanged, and the state is restored for the task that entered it, even when the block
is left from another task (an unfinished async generator closed by the event loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any, TypeVar

import mongoengine.context_managers as me_context_managers
from mongoengine.base.fields import BaseField
from mongoengine.context_managers import no_dereference

from . import compat
from .task_local import TaskLocal
from .task_switches import active_switch, switched

__all__ = [
    "async_no_dereference",
    "async_no_sub_classes",
    "async_switch_collection",
    "async_switch_db",
]

C = TypeVar("C", bound=type)


@asynccontextmanager
async def async_switch_db(cls: C, db_alias: str) -> AsyncIterator[C]:
    """Use ``db_alias`` for ``cls`` in this task while the block runs."""
    with switched(cls, alias=db_alias):
        yield cls


@asynccontextmanager
async def async_switch_collection(cls: C, collection_name: str) -> AsyncIterator[C]:
    """Use ``collection_name`` for ``cls`` in this task while the block runs."""
    with switched(cls, collection=collection_name):
        yield cls


@asynccontextmanager
async def async_no_sub_classes(cls: C) -> AsyncIterator[C]:
    """Query only ``cls`` itself, not its subclasses, in this task."""
    with switched(cls, no_sub_classes=True):
        yield cls


@asynccontextmanager
async def async_no_dereference(cls: C) -> AsyncIterator[C]:
    """Turn off dereferencing for ``cls`` in this task while the block runs.

    MongoEngine's ``no_dereference`` counts in task-local namespaces (made so by the
    graft); leaving the block undoes the count in the namespaces of the task that entered
    it, even when it is left from another task (an async generator closed by the event
    loop), so that task's dereferencing comes back.
    """
    task_locals = (me_context_managers.thread_locals, compat.thread_local_storage(BaseField))
    owned = [(local, local.namespace()) for local in task_locals if isinstance(local, TaskLocal)]
    manager = no_dereference(cls)
    manager.__enter__()
    try:
        yield cls
    finally:
        with ExitStack() as namespaces:
            for local, namespace in owned:
                namespaces.enter_context(local.borrowed(namespace))
            manager.__exit__(None, None, None)


def collection_name_wrapper(original: Any) -> Any:
    """``_get_collection_name`` that honours a task-local ``async_switch_collection``."""
    fetch = original.__func__

    def _get_collection_name(cls: Any) -> Any:
        switched = active_switch(cls)
        if switched is not None and switched.collection is not None:
            return switched.collection
        return fetch(cls)

    _get_collection_name.__doc__ = fetch.__doc__
    return classmethod(_get_collection_name)


def get_db_wrapper(original: Any) -> Any:
    """``Document._get_db`` that honours a task-local ``async_switch_db``."""
    fetch = original.__func__

    def _get_db(cls: Any) -> Any:
        switched = active_switch(cls)
        if switched is not None and switched.alias is not None:
            from mongoengine.connection import get_db

            return get_db(switched.alias)
        return fetch(cls)

    _get_db.__doc__ = fetch.__doc__
    return classmethod(_get_db)


def queryset_init_wrapper(original: Any) -> Any:
    """``BaseQuerySet.__init__`` that honours a task-local ``async_no_sub_classes``."""

    def __init__(self: Any, document: Any, collection: Any) -> None:
        original(self, document, collection)
        switched = active_switch(document)
        if switched is not None and switched.no_sub_classes and compat.cls_query(self):
            compat.set_cls_query(self, {"_cls": compat.class_name(document)})

    __init__.__doc__ = original.__doc__
    return __init__
