"""A put that fails or is cancelled leaves nothing behind, and the sweep removes the
content of uploads never completed once they are older than its grace period; the same
on every backend with files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

UowFactory = Callable[[], Any]
PART = b"p" * (300 * 1024)  # more than a GridFS chunk: each part writes one at once


@pytest.fixture(autouse=True)
def _files_supported(requires: Callable[[str], None]) -> None:
    requires("files")


async def test_a_streamed_put_that_fails_leaves_nothing_to_sweep(uow_factory: UowFactory) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield PART
        raise ConnectionError("the client went away")

    async with uow_factory() as uow:
        with pytest.raises(ConnectionError):
            await uow.files.put(failing(), filename="cut.bin")
        assert await uow.files.ids() == []
        assert await uow.files.sweep_orphans(grace=0) == []  # nothing was left to find


async def test_an_upload_is_swept_only_after_the_grace_period(uow_factory: UowFactory) -> None:
    written, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield PART
        yield PART
        written.set()  # asked for a third part: the first ones are stored
        await release.wait()
        yield PART  # pragma: no cover - cancelled before

    async with uow_factory() as uow:
        upload = asyncio.create_task(uow.files.put(slow(), filename="slow.bin"))
        await written.wait()
        assert await uow.files.sweep_orphans() == []  # a running upload is left alone
        swept = await uow.files.sweep_orphans(grace=0)
        assert len(swept) == 1
        assert await uow.files.sweep_orphans(grace=0) == []
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
        assert await uow.files.ids() == []


async def test_a_cancelled_put_leaves_nothing(uow_factory: UowFactory) -> None:
    written = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield PART
            written.set()
            await asyncio.sleep(0.01)

    async with uow_factory() as uow:
        upload = asyncio.create_task(uow.files.put(endless(), filename="endless.bin"))
        await written.wait()
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
        assert await uow.files.sweep_orphans(grace=0) == []
        assert await uow.files.ids() == []
