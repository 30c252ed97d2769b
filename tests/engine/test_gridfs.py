"""GridFS on async aliases: the spec's API, streaming, images, cleanup."""

from __future__ import annotations

import io
import os
import tracemalloc
from typing import Any

import pytest
from mongoengine import Document, FileField, ImageField, StringField
from mongoengine.fields import GridFSError

import persistence  # noqa: F401
from persistence.engine import async_run_in_transaction


class MyDocument(Document):
    name = StringField()
    file = FileField()


class Picture(Document):
    image = ImageField(size=(40, 40, True), thumbnail_size=(8, 8, True))


async def _counts(db: Any) -> tuple[int, int]:
    return await db["fs.files"].count_documents({}), await db["fs.chunks"].count_documents({})


async def test_the_spec_gridfs_example(async_db: Any, tmp_path: Any) -> None:
    example = tmp_path / "example.txt"
    example.write_bytes(b"example content")
    new_file_data = b"replaced content"

    doc = MyDocument(name="My Document")
    with open(example, "rb") as f:
        file_data = f.read()
    await MyDocument.file.async_put(file_data, instance=doc, filename="example.txt")
    await doc.async_save()

    file_content = await MyDocument.file.async_read(doc)
    assert file_content == b"example content"
    file_proxy = await MyDocument.file.async_get(doc)
    assert (file_proxy.length, file_proxy.filename) == (15, "example.txt")
    assert file_proxy.upload_date is not None

    await MyDocument.file.async_delete(doc)
    assert await _counts(async_db) == (0, 0)
    await MyDocument.file.async_replace(new_file_data, doc, filename="new_example.txt")
    await doc.async_save()
    stored = await MyDocument.objects.async_get(name="My Document")
    assert await stored.file.async_read() == b"replaced content"
    assert (await stored.file.async_get()).filename == "new_example.txt"
    assert await _counts(async_db) == (1, 1)


async def test_file_like_input_metadata_and_instance_twins(async_db: Any) -> None:
    doc = MyDocument(name="meta")
    await doc.file.async_put(
        io.BytesIO(b"abc"), filename="a.txt", content_type="text/plain", metadata={"k": 1}
    )
    await doc.async_save()
    out = await (await MyDocument.objects.async_first()).file.async_get()
    assert (out.content_type, out.metadata, out.length) == ("text/plain", {"k": 1}, 3)
    with pytest.raises(GridFSError):
        await doc.file.async_put(b"second")


async def test_sync_file_methods_on_an_async_alias_are_refused(async_db: Any) -> None:
    doc = MyDocument(name="s")
    await MyDocument.file.async_put(b"x", instance=doc)
    await doc.async_save()
    with pytest.raises(RuntimeError, match="async_read"):
        doc.file.read()
    with pytest.raises(RuntimeError, match="async_put"):
        MyDocument(name="t").file.put(b"y")
    assert await _counts(async_db) == (1, 1)


async def test_deleting_the_document_removes_its_files(async_db: Any) -> None:
    doc = MyDocument(name="gone")
    await MyDocument.file.async_put(b"data" * 100_000, instance=doc)
    await doc.async_save()
    assert (await _counts(async_db))[0] == 1
    await doc.async_delete()
    assert await _counts(async_db) == (0, 0)


class _Exploding(io.RawIOBase):
    """Yields data, then fails halfway through."""

    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= 600_000:
            raise OSError("disk on fire")
        size = 100_000 if size is None or size < 0 else size
        self.sent += size
        return b"z" * size


async def test_a_failed_put_leaves_no_orphan_chunks(async_db: Any) -> None:
    doc = MyDocument(name="boom")
    with pytest.raises(OSError, match="disk on fire"):
        await MyDocument.file.async_put(_Exploding(), instance=doc)
    assert doc.file.grid_id is None
    assert await _counts(async_db) == (0, 0)
    with pytest.raises(RuntimeError, match="writer failed"):
        async with MyDocument.file.async_writer(doc, filename="w") as writer:
            await writer.write(b"q" * 600_000)
            raise RuntimeError("writer failed")
    assert await _counts(async_db) == (0, 0)


async def test_files_are_written_outside_a_transaction(async_db: Any) -> None:
    doc = MyDocument(name="tx")
    with pytest.raises(RuntimeError):
        async with async_run_in_transaction():
            await MyDocument.file.async_put(b"kept", instance=doc)
            await doc.async_save()
            raise RuntimeError("roll back the document")
    assert await async_db["my_document"].count_documents({}) == 0
    assert (await _counts(async_db))[0] == 1  # GridFS is not transactional


async def test_image_field_sizes_and_thumbnails(async_db: Any) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "blue").save(buffer, "PNG")
    picture = Picture()
    await Picture.image.async_put(buffer.getvalue(), instance=picture)
    await picture.async_save()
    loaded = await Picture.objects.async_first()
    stored = Image.open(io.BytesIO(await loaded.image.async_read()))
    assert stored.size == (40, 40)
    thumbnail = await async_db["images.files"].count_documents({"width": 8, "height": 8})
    assert thumbnail == 1


# Every run streams 24 MB (more than the 16 MB bound, so holding the file would fail);
# the 64 MB size is opt-in: `pytest -m slow`.
@pytest.mark.parametrize("megabytes", [24, pytest.param(64, marks=pytest.mark.slow)])
async def test_a_large_file_streams_both_ways_in_little_memory(
    async_db: Any, megabytes: int
) -> None:
    part = os.urandom(1 << 20)
    doc = MyDocument(name="big")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        async with MyDocument.file.async_writer(doc, filename="big.bin") as writer:
            for _ in range(megabytes):
                await writer.write(part)
        await doc.async_save()
        total = 0
        async for chunk in doc.file.async_iter_chunks():
            offset = total % len(part)
            assert chunk == (part + part)[offset : offset + len(chunk)]
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == megabytes << 20
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB"
    assert (await async_db["fs.files"].find_one())["length"] == megabytes << 20
