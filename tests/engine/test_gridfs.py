"""GridFS on async aliases: the spec's API, streaming, images, cleanup."""

from __future__ import annotations

import io
import os
import tracemalloc
from typing import Any

import pytest
from bson import ObjectId
from mongoengine import Document, FileField, ImageField, StringField
from mongoengine.fields import GridFSError

import persistence.engine  # noqa: F401
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


# -- the async fork's field-level API: AsyncGridFSProxy ---------------------------------


async def test_field_put_returns_an_async_gridfs_proxy_over_the_documents_file(
    async_db: Any,
) -> None:
    from mongoengine import async_query_counter
    from mongoengine.fields import AsyncGridFSProxy

    doc = MyDocument(name="fork")
    proxy = await MyDocument.file.async_put(
        b"hello world",
        instance=doc,
        filename="h.txt",
        content_type="text/plain",
        metadata={"k": 1},
        author="ann",
    )
    assert isinstance(proxy, AsyncGridFSProxy)
    assert isinstance(proxy.grid_id, ObjectId) and proxy.grid_id == doc.file.grid_id
    assert proxy == doc.file and proxy.instance is doc and proxy.key == "file"
    assert repr(proxy) == f"<AsyncGridFSProxy: {proxy.grid_id}>"
    async with async_query_counter() as queries:  # metadata attributes: no I/O
        assert (proxy.filename, proxy.content_type, proxy.length) == ("h.txt", "text/plain", 11)
        assert (proxy.metadata, proxy.author) == ({"k": 1}, "ann")
        assert proxy.upload_date is not None and proxy.chunk_size > 0
    assert queries == 0
    await doc.async_save()

    loaded = await MyDocument.objects.async_get(name="fork")
    got = await MyDocument.file.async_get(loaded)
    assert isinstance(got, AsyncGridFSProxy) and got.grid_id == proxy.grid_id
    assert (got.filename, got.length, got.author) == ("h.txt", 11, "ann")
    assert await got.async_read() == b"hello world"
    assert await got.async_read(5) == b"hello"
    assert await got.async_read(5) == b"hello"  # each read starts at the beginning
    assert await MyDocument.file.async_read(loaded, 5) == b"hello"
    assert await MyDocument.file.async_read(loaded) == b"hello world"

    old_id = got.grid_id
    new_id = await got.async_replace(io.BytesIO(b"bye"), filename="b.txt")
    assert new_id == got.grid_id == loaded.file.grid_id != old_id
    assert (got.filename, got.length) == ("b.txt", 3)
    assert loaded._get_changed_fields() == ["file"]
    await loaded.async_save()
    stored = await MyDocument.objects.async_get(name="fork")
    assert stored.file.grid_id == new_id and await stored.file.async_read() == b"bye"
    assert await _counts(async_db) == (1, 1)

    replaced = await MyDocument.file.async_replace(b"again", instance=stored)
    assert isinstance(replaced, AsyncGridFSProxy) and replaced.grid_id == stored.file.grid_id
    await replaced.async_delete()
    assert replaced.grid_id is None and stored.file.grid_id is None
    assert await replaced.async_read() is None
    with pytest.raises(AttributeError, match="async_get"):
        replaced.filename  # noqa: B018
    await stored.async_save()
    emptied = await MyDocument.objects.async_get(name="fork")
    assert await MyDocument.file.async_get(emptied) is None
    assert await _counts(async_db) == (0, 0)


async def test_field_delete_and_a_second_put(async_db: Any) -> None:
    doc = MyDocument(name="twice")
    await MyDocument.file.async_put(b"one", instance=doc)
    with pytest.raises(GridFSError):
        await MyDocument.file.async_put(b"two", instance=doc)
    assert await _counts(async_db) == (1, 1)
    await MyDocument.file.async_delete(doc)
    assert doc.file.grid_id is None and await _counts(async_db) == (0, 0)


async def test_a_hand_made_proxy_loads_metadata_only_when_asked(async_db: Any) -> None:
    from mongoengine.fields import AsyncGridFSProxy

    file_id = (await MyDocument.file.async_put(b"data", MyDocument(), filename="d")).grid_id
    proxy = AsyncGridFSProxy(grid_id=file_id, db_alias="default", collection_name="fs")
    assert proxy and not AsyncGridFSProxy()
    with pytest.raises(AttributeError, match=r"await proxy\.async_get\(\)"):
        proxy.filename  # noqa: B018
    out = await proxy.async_get()
    assert (out.filename, proxy.filename, proxy.length) == ("d", "d", 4)
    with pytest.raises(AttributeError):
        proxy.read  # noqa: B018  (GridOut's methods are not metadata)

    missing = AsyncGridFSProxy(grid_id=ObjectId(), db_alias="default", collection_name="fs")
    assert await missing.async_get() is None and await missing.async_read() is None
    dangling = MyDocument(name="dangling")
    dangling.file.grid_id = ObjectId()
    assert await MyDocument.file.async_get(dangling) is None
    assert await MyDocument.file.async_get(MyDocument(name="none")) is None


async def test_image_field_put_returns_an_async_gridfs_proxy(async_db: Any) -> None:
    from mongoengine.fields import AsyncGridFSProxy
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "red").save(buffer, "PNG")
    picture = Picture()
    proxy = await Picture.image.async_put(buffer.getvalue(), instance=picture, filename="p.png")
    assert isinstance(proxy, AsyncGridFSProxy) and proxy.grid_id == picture.image.grid_id
    assert (proxy.width, proxy.height, proxy.format, proxy.filename) == (40, 40, "PNG", "p.png")
    assert proxy.thumbnail_id is not None
    await picture.async_save()
    loaded = await Picture.objects.async_first()
    got = await Picture.image.async_get(loaded)
    assert Image.open(io.BytesIO(await got.async_read())).size == (40, 40)
    assert await async_db["images.files"].count_documents({}) == 2  # the image, its thumbnail
    await got.async_delete()
    assert await async_db["images.files"].count_documents({}) == 0
    assert await async_db["images.chunks"].count_documents({}) == 0


class SyncFiled(Document):
    file = FileField(db_alias="sync")
    meta = {"db_alias": "sync"}


async def test_field_api_needs_an_async_alias_and_a_server(sync_db: Any, mongomock_db: Any) -> None:
    with pytest.raises(RuntimeError, match="not async"):
        await SyncFiled.file.async_put(b"x", instance=SyncFiled())
    with pytest.raises(NotImplementedError, match="mongomock"):
        await MyDocument.file.async_put(b"x", instance=MyDocument())
