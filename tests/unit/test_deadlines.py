"""``bounded``: the driver's deadline, and a cancellation never lost under it (on Python
3.11 ``asyncio.wait_for``, which PyMongo sends through under a deadline, may swallow one);
``outage_watch``: a wait for an unreachable server ended within the outage budget."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pymongo import _csot
from pymongo.errors import NetworkTimeout

from persistence.mongo.deadlines import bounded, outage_watch


async def _swallows_its_cancellation() -> str:
    with bounded(5.0):
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass  # what wait_for does when its awaitable completes at that moment
    return "went on"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is 3.11+")
async def test_a_cancellation_swallowed_under_the_deadline_is_raised_again() -> None:
    task = asyncio.create_task(_swallows_its_cancellation())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_deadline_is_the_drivers_and_is_left_as_found() -> None:
    assert _csot.get_timeout() is None
    with bounded(2.5):
        assert _csot.get_timeout() == 2.5
        with bounded(10.0):  # a nested one never extends the outer deadline
            assert _csot.remaining() is not None and _csot.remaining() <= 2.5
    assert _csot.get_timeout() is None
    with pytest.raises(LookupError), bounded(1.0):
        raise LookupError("errors pass through")
    assert _csot.get_timeout() is None


async def test_an_outage_watch_ends_a_wait_for_an_unreachable_server() -> None:
    watch = outage_watch(0.01, lambda: False)
    with pytest.raises(NetworkTimeout, match="outage budget"), watch:
        await asyncio.sleep(60)  # the driver waiting for a server
    assert watch.fired
    current = asyncio.current_task()
    assert current is not None and getattr(current, "cancelling", lambda: 0)() == 0


async def test_an_outage_watch_leaves_a_slow_operation_on_a_reachable_server() -> None:
    watch = outage_watch(0.01, lambda: True)
    with watch:
        await asyncio.sleep(0.05)  # slow, not down
    assert not watch.fired


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is 3.11+")
async def test_an_outage_watch_keeps_a_cancellation_from_elsewhere() -> None:
    async def waits() -> None:
        with outage_watch(0.01, lambda: False):
            await asyncio.sleep(60)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0)
    task.cancel()  # the caller cancels too
    with pytest.raises(asyncio.CancelledError):
        await task
