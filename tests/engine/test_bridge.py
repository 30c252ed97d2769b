"""The greenlet bridge: the classic tests of greenlet_spawn / await_only."""

from __future__ import annotations

import asyncio
import contextvars
import traceback

import pymongo
import pytest
from pymongo import _csot

from persistence.engine.bridge import (
    BridgeError,
    await_only,
    greenlet_spawn,
    in_bridge,
    live_bridge_greenlets,
)

var: contextvars.ContextVar[str] = contextvars.ContextVar("bridge_test_var", default="unset")


async def _value(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


async def _fail() -> None:
    await asyncio.sleep(0)
    raise KeyError("from the coroutine")


async def test_plain_call_returns_the_value() -> None:
    def run(a: int, b: int = 0) -> int:
        return await_only(_value(a)) + b

    assert await greenlet_spawn(run, 20, b=2) == 42
    assert live_bridge_greenlets() == 0


async def test_async_error_surfaces_at_the_await_only_call_site() -> None:
    def run() -> str:
        try:
            await_only(_fail())
        except KeyError as exc:
            return f"caught {exc.args[0]}"
        return "not raised"

    assert await greenlet_spawn(run) == "caught from the coroutine"


async def test_sync_error_propagates_with_type_and_traceback() -> None:
    def broken_sync_code() -> None:
        await_only(asyncio.sleep(0))
        raise ValueError("sync failure")

    with pytest.raises(ValueError, match="sync failure") as info:
        await greenlet_spawn(broken_sync_code)
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "broken_sync_code" in frames
    assert live_bridge_greenlets() == 0


async def test_cancellation_runs_finally_blocks_and_leaves_no_greenlet() -> None:
    events: list[str] = []
    started = asyncio.Event()

    never = asyncio.Event()

    def run() -> None:
        try:
            started.set()
            await_only(never.wait())
            events.append("not cancelled")
        except asyncio.CancelledError:
            events.append("cancelled at the call site")
            raise
        finally:
            events.append("finally ran")

    task = asyncio.ensure_future(greenlet_spawn(run))
    await started.wait()  # the greenlet now waits in await_only
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["cancelled at the call site", "finally ran"]
    assert live_bridge_greenlets() == 0


async def test_context_variables_flow_both_ways() -> None:
    var.set("from the task")

    def run() -> str:
        seen = var.get()
        var.set("from the greenlet")
        await_only(asyncio.sleep(0))
        return seen

    assert await greenlet_spawn(run) == "from the task"
    assert var.get() == "from the greenlet"


async def test_contextvars_stay_apart_across_500_concurrent_tasks() -> None:
    def run(expected: str) -> bool:
        for _ in range(3):
            if var.get() != expected:
                return False
            await_only(asyncio.sleep(0))
        var.set(expected + "!")
        await_only(asyncio.sleep(0))
        return var.get() == expected + "!"

    async def one(i: int) -> tuple[bool, str]:
        var.set(f"task-{i}")
        ok = await greenlet_spawn(run, f"task-{i}")
        return ok, var.get()

    results = await asyncio.gather(*(one(i) for i in range(500)))
    assert all(ok for ok, _ in results)
    assert [value for _, value in results] == [f"task-{i}!" for i in range(500)]
    assert live_bridge_greenlets() == 0


async def test_pymongo_timeout_set_outside_applies_inside() -> None:
    def run() -> float | None:
        return _csot.get_timeout()

    with pymongo.timeout(5):
        inside = await greenlet_spawn(run)
    assert inside is not None and 0 < inside <= 5
    assert await greenlet_spawn(run) is None


def test_await_only_outside_the_bridge_explains_and_closes_the_coroutine() -> None:
    coroutine = _value(1)
    with pytest.raises(BridgeError) as info:
        await_only(coroutine)
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "_value()" in message and "async_" in message and "greenlet_spawn" in message
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning (an error here)


async def test_in_bridge_is_true_only_inside() -> None:
    assert in_bridge() is False
    assert await greenlet_spawn(in_bridge) is True


async def test_nested_spawn_from_a_coroutine_awaited_in_the_bridge() -> None:
    async def inner() -> int:
        return await greenlet_spawn(lambda: await_only(_value(5)) + 1)

    def outer() -> int:
        return await_only(inner()) * 10

    assert await greenlet_spawn(outer) == 110
    assert live_bridge_greenlets() == 0


def test_bridge_workers_stay_on_their_thread() -> None:
    """Pooled worker greenlets are per thread: loops in other threads get their own."""
    import threading

    from persistence.engine.bridge import await_only, greenlet_spawn

    async def twice() -> list[int]:
        async def one() -> int:
            return 1

        return [await greenlet_spawn(lambda: await_only(one())) for _ in range(3)]

    results: list[list[int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(asyncio.run(twice()))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [[1, 1, 1]] * 3
