"""Waiting for a condition, never for a duration.

A test that waits ``asyncio.sleep(0.2)`` for something to finish fails on a busy
machine; ``await until(condition, what)`` returns as soon as the condition holds, and
fails only after ``HANG_S``, which guards against a hang and says nothing about speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

HANG_S = 120.0

_T = TypeVar("_T")


async def until(condition: Callable[[], bool], what: str, hang_s: float = HANG_S) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``hang_s``."""
    give_up = time.monotonic() + hang_s
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: still not true after {hang_s:g} s")
        await asyncio.sleep(0.01)


async def until_found(
    probe: Callable[[], Awaitable[bool]], what: str, hang_s: float = HANG_S
) -> None:
    """:func:`until` for a condition that has to ask the store (``await probe()``)."""
    give_up = time.monotonic() + hang_s
    while not await probe():
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: still not true after {hang_s:g} s")
        await asyncio.sleep(0.01)


async def until_back(
    attempt: Callable[[], Awaitable[_T]],
    unavailable: type[BaseException] | tuple[type[BaseException], ...],
    what: str,
    hang_s: float = HANG_S,
) -> _T:
    """``await attempt()`` once it stops raising ``unavailable``: a client rediscovering a
    restarted server takes its time on a busy machine (a short server selection timeout
    may run out first).  Fails naming ``what`` after ``hang_s``."""
    give_up = time.monotonic() + hang_s
    while True:
        try:
            return await attempt()
        except unavailable:
            if time.monotonic() > give_up:
                pytest.fail(f"{what}: still unavailable after {hang_s:g} s")
            await asyncio.sleep(0.05)
