"""Leaving an async context manager: the block's exception propagates unchanged and the
state is restored for the task that entered it, also when the block is left from another
task (an unfinished async generator closed by the event loop)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mongoengine import (
    Document,
    ReferenceField,
    StringField,
    async_no_dereference,
    async_no_sub_classes,
    async_query_counter,
    async_run_in_transaction,
    async_set_read_write_concern,
    async_set_write_concern,
    async_switch_collection,
    async_switch_db,
)
from mongoengine.context_managers import no_dereferencing_active_for_class
from pymongo.asynchronous.database import AsyncDatabase

import persistence.engine  # noqa: F401
from persistence.engine import get_async_connection
from persistence.engine.sessions import session_for
from persistence.engine.task_switches import active_switch


class ExitPlace(Document):
    name = StringField()
    meta = {"allow_inheritance": True}


class ExitVisit(Document):
    place = ReferenceField(ExitPlace)


class Boom(Exception):
    pass


MANAGERS: dict[str, Callable[[], Any]] = {
    "async_switch_db": lambda: async_switch_db(ExitPlace, "default"),
    "async_switch_collection": lambda: async_switch_collection(ExitPlace, "exit_other"),
    "async_no_sub_classes": lambda: async_no_sub_classes(ExitPlace),
    "async_no_dereference": lambda: async_no_dereference(ExitVisit),
    "async_query_counter": lambda: async_query_counter(),
    "async_set_write_concern": lambda: async_set_write_concern(ExitPlace, {"w": 1}),
    "async_set_read_write_concern": lambda: async_set_read_write_concern(
        ExitPlace, {"w": 1}, {"level": "local"}
    ),
}
ON_SERVER_ONLY = {"async_run_in_transaction": lambda: async_run_in_transaction()}


def _state() -> tuple[Any, ...]:
    """Everything a manager may change, as the current task sees it."""
    logger = logging.getLogger("pymongo.command")
    client = get_async_connection()
    return (
        active_switch(ExitPlace),
        no_dereferencing_active_for_class(ExitVisit),
        ExitVisit._fields["place"]._auto_dereference,
        logger.level,
        list(logger.filters),
        session_for(client),
        ExitPlace._get_collection_name(),
    )


def _managers(db: Any) -> dict[str, Callable[[], Any]]:
    return {**MANAGERS, **(ON_SERVER_ONLY if isinstance(db, AsyncDatabase) else {})}


async def test_an_exception_inside_propagates_unchanged_and_the_state_is_restored(
    any_async_db: Any,
) -> None:
    await ExitPlace(name="p").async_save()
    before = _state()
    for name, make in _managers(any_async_db).items():
        error = Boom(name)
        with pytest.raises(Boom) as caught:
            async with make():
                await ExitPlace.objects.async_count()
                raise error
        assert caught.value is error, name
        assert caught.value.__context__ is None, name  # nothing raised while leaving
        assert _state() == before, name
        with pytest.raises(StopAsyncIteration):  # even the exceptions contextlib special-cases
            async with make():
                raise StopAsyncIteration
        assert _state() == before, name


async def test_cancelled_inside_restores_the_state(any_async_db: Any) -> None:
    await ExitPlace(name="p").async_save()
    before = _state()
    for name, make in _managers(any_async_db).items():
        entered = asyncio.Event()

        async def block(make: Callable[[], Any] = make, entered: asyncio.Event = entered) -> None:
            async with make():
                entered.set()
                await asyncio.sleep(3600)

        task = asyncio.create_task(block())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _state() == before, name


async def test_a_block_left_from_another_task_is_undone_for_the_task_that_entered_it(
    any_async_db: Any,
) -> None:
    await ExitPlace(name="p").async_save()
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    try:
        before = _state()
        for name, make in _managers(any_async_db).items():

            async def rows(make: Callable[[], Any] = make) -> AsyncIterator[int]:
                async with make():
                    yield 1
                    yield 2

            unfinished = rows()
            assert await unfinished.__anext__() == 1  # the block is entered in this task
            del unfinished  # dropped: the event loop closes it, in a task of its own
            gc.collect()
            for _ in range(5):
                await asyncio.sleep(0)
            assert errors == [], name
            assert _state() == before, name
            await ExitPlace.objects.async_count()  # and the task still works
    finally:
        loop.set_exception_handler(previous_handler)


async def test_a_switch_started_inside_a_block_stays_with_the_tasks_it_started(
    async_db: Any,
) -> None:
    """A task started inside ``async_switch_collection`` keeps the switch it started with
    after the block is left (its writes do not move to another collection halfway)."""
    left, written = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        await left.wait()
        await ExitPlace(name="late").async_save()
        written.set()

    async with async_switch_collection(ExitPlace, "exit_archive"):
        task = asyncio.create_task(writer())
    left.set()
    await task
    assert [d["name"] async for d in async_db["exit_archive"].find()] == ["late"]
    assert await async_db["exit_place"].count_documents({}) == 0
