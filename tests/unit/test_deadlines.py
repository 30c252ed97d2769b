"""``bounded``: the driver's deadline, and a cancellation never lost under it (on Python
3.11 ``asyncio.wait_for``, which PyMongo sends through under a deadline, may swallow one)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pymongo import _csot

from adapters.mongo.deadlines import bounded


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
