"""File store failures answer the same on every backend with files: content that is not
bytes is refused before anything is stored, and an upload whose parts a sweep removed
is a ``FileStoreError`` (never a file with part of its content missing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from persistence.errors import FileStoreError

UowFactory = Callable[[], Any]
PART = b"p" * (300 * 1024)  # more than a GridFS chunk: each part writes one at once


@pytest.fixture(autouse=True)
def _files_supported(requires: Callable[[str], None]) -> None:
    requires("files")


async def _parts(*parts: object) -> AsyncIterator[Any]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (lambda: "text", "str"),
        (lambda: [b"a", b"b"], "list"),
        (lambda: _parts(PART, "text"), "str"),
        (lambda: _parts(PART, 5), "int"),  # bytes(5) would be five zero bytes
    ],
    ids=["str", "sync-iterable", "str-part", "int-part"],
)
async def test_content_that_is_not_bytes_is_refused_and_nothing_is_stored(
    uow_factory: UowFactory, content: Callable[[], Any], named: str
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(TypeError, match=f"not {named}|got {named}"):
            await uow.files.put(content(), filename="bad.bin")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.files.ids() == []
        assert await uow.files.sweep_orphans(grace=0) == []


async def test_an_upload_outliving_the_sweeps_grace_is_a_file_store_error(
    uow_factory: UowFactory,
) -> None:
    written, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield PART
        yield PART
        written.set()  # asked for a third part: the first ones are stored
        await release.wait()
        yield PART

    async with uow_factory() as uow:
        upload = asyncio.create_task(uow.files.put(slow(), filename="slow.bin"))
        await written.wait()
        assert len(await uow.files.sweep_orphans(grace=0)) == 1  # its first parts go
        release.set()
        with pytest.raises(FileStoreError, match="sweep"):
            await upload
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.files.ids() == []
        assert await uow.files.sweep_orphans(grace=0) == []
