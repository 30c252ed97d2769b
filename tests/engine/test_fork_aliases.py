"""Code written for the async MongoEngine fork (PR #2891) runs unchanged: its names as aliases."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import mongoengine
import pytest
from mongoengine import (
    Document,
    GenericLazyReferenceField,
    GenericReferenceField,
    IntField,
    LazyReferenceField,
    ListField,
    ReferenceField,
    StringField,
)
from mongoengine.connection import ConnectionFailure
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.database import AsyncDatabase

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, get_async_db, is_async_connection
from persistence.engine.references import AsyncReferenceProxy


class FkUser(Document):
    name = StringField()


class FkPost(Document):
    title = StringField()
    author = ReferenceField(FkUser)
    authors = ListField(ReferenceField(FkUser))
    lazy_author = LazyReferenceField(FkUser)
    any_author = GenericReferenceField()
    any_lazy_author = GenericLazyReferenceField()
    score = IntField(default=0)


class FkSyncUser(Document):
    name = StringField()
    meta = {"db_alias": "sync"}


class FkSyncPost(Document):
    author = ReferenceField(FkSyncUser)
    meta = {"db_alias": "sync"}


async def _post() -> tuple[FkUser, FkUser]:
    ada = await FkUser(name="ada").async_save()
    bob = await FkUser(name="bob").async_save()
    await FkPost(
        title="t",
        author=ada,
        authors=[ada, bob],
        lazy_author=bob,
        any_author=ada,
        any_lazy_author=bob,
    ).async_save()
    return ada, bob


async def test_async_reference_proxy_fetch(async_db: Any) -> None:
    await _post()
    post = await FkPost.objects.async_first()
    proxy = post.author
    assert isinstance(proxy, AsyncReferenceProxy)
    author = await proxy.fetch()
    assert isinstance(author, FkUser) and author.name == "ada"
    assert await proxy.fetch() is author  # remembered
    assert post.author is author  # once fetched, the attribute is the document
    await FkUser.objects(name="ada").async_update(set__name="ada2")
    assert (await proxy.fetch(force=True)).name == "ada2"
    # the fork's own example: fetch every reference of a list
    names = []
    for ref in post.authors:
        if hasattr(ref, "fetch"):
            names.append((await ref.fetch()).name)
    assert names == ["ada2", "bob"]


async def test_field_async_fetch_on_each_reference_field(async_db: Any) -> None:
    ada, bob = await _post()
    post = await FkPost.objects.async_first()
    author = await FkPost.author.async_fetch(post)
    assert isinstance(author, FkUser) and author.pk == ada.pk
    assert post.author is author  # the loaded document replaced the reference
    assert (await FkPost.lazy_author.async_fetch(post)).name == "bob"
    assert (await FkPost.any_author.async_fetch(post)).name == "ada"
    assert (await FkPost.any_lazy_author.async_fetch(post)).name == "bob"
    assert post.lazy_author.pk == bob.pk  # a lazy field keeps its LazyReference
    empty = await FkPost(title="empty").async_save()
    assert await FkPost.author.async_fetch(empty) is None


async def test_field_async_fetch_of_an_assigned_document_runs_no_query(async_db: Any) -> None:
    ada = await FkUser(name="ada").async_save()
    post = FkPost(title="new", author=ada)
    assert await FkPost.author.async_fetch(post) is ada


def test_field_async_fetch_on_a_sync_alias_says_not_async(sync_db: Any) -> None:
    import asyncio

    post = FkSyncPost(author=FkSyncUser(name="s").save()).save()
    loaded = FkSyncPost.objects.get(pk=post.pk)  # its author is still a DBRef
    with pytest.raises(RuntimeError, match="not async"):
        asyncio.run(FkSyncPost.author.async_fetch(loaded))


async def test_async_gridfs_proxy_from_mongoengine_fields(async_db: Any) -> None:
    from mongoengine.fields import AsyncGridFSProxy

    proxy = AsyncGridFSProxy(db_alias="default", collection_name="fs")
    file_id = await proxy.async_put(b"hello", filename="a.txt")
    assert proxy.grid_id == file_id
    assert await proxy.async_read() == b"hello"
    again = AsyncGridFSProxy(grid_id=file_id, db_alias="default", collection_name="fs")
    assert await again.async_read(2) == b"he"
    meta = await proxy.async_get()
    assert (meta.filename, meta.length) == ("a.txt", 5)
    await proxy.async_replace(b"bye", filename="b.txt")
    assert await proxy.async_read() == b"bye"
    assert [f["filename"] async for f in async_db["fs.files"].find()] == ["b.txt"]
    await proxy.async_delete()
    assert proxy.grid_id is None and await proxy.async_read() is None
    assert await async_db["fs.files"].count_documents({}) == 0
    assert await async_db["fs.chunks"].count_documents({}) == 0


async def test_async_aggregate_awaited_or_iterated(async_db: Any, sync_db: Any) -> None:
    for n in (1, 2, 3):
        await FkPost(title=str(n), score=n).async_save()
    pipeline = [{"$project": {"_id": 0, "score": 1}}]
    queryset = FkPost.objects(score__gte=2).order_by("score")
    rows = [row async for row in queryset.async_aggregate(pipeline)]
    assert rows == [{"score": 2}, {"score": 3}]
    cursor = await queryset.async_aggregate(pipeline)
    assert isinstance(cursor, AsyncCommandCursor)  # PyMongo's own, never a facade
    assert await cursor.to_list() == rows
    assert await queryset.async_aggregate(pipeline).to_list() == rows
    with pytest.raises(RuntimeError, match="async_aggregate"):
        FkSyncPost.objects.async_aggregate(pipeline)


async def test_disconnect_all_async(mongodb_uri: str) -> None:
    from mongoengine import disconnect_all_async

    await connect_async("fk_one", alias="fk_one", host=mongodb_uri)
    await connect_async("fk_two", alias="fk_two", host=mongodb_uri)
    assert is_async_connection("fk_one") and is_async_connection("fk_two")
    await disconnect_all_async()
    assert not is_async_connection("fk_one") and not is_async_connection("fk_two")
    assert mongoengine.disconnect_all_async is disconnect_all_async


async def test_connection_errors_carry_the_forks_phrases(
    async_db: Any, sync_db: Any, mongodb_uri: str
) -> None:
    with pytest.raises(ConnectionFailure, match="different connection") as info:
        await connect_async("other_db", alias="default", host=mongodb_uri)
    assert "disconnect_async()" in str(info.value)
    with pytest.raises(ConnectionFailure, match="synchronous connection") as info:
        await connect_async("x", alias="sync", host=mongodb_uri)
    assert "sync connection" in str(info.value)
    with pytest.raises(ConnectionFailure, match="not async"):
        get_async_db("sync")
    with pytest.raises(RuntimeError, match="not async") as error:
        await FkSyncUser.objects.async_count()
    assert "connect_async" in str(error.value)


def test_the_forks_module_paths_import_this_projects_api() -> None:
    import mongoengine.base
    import mongoengine.base.datastructures
    import mongoengine.connection
    from mongoengine.async_context_managers import (
        async_no_dereference,
        async_run_in_transaction,
        async_switch_collection,
        async_switch_db,
    )

    from persistence.engine import context_managers, transactions

    assert async_switch_db is context_managers.async_switch_db
    assert async_switch_collection is context_managers.async_switch_collection
    assert async_no_dereference is context_managers.async_no_dereference
    assert async_run_in_transaction is transactions.async_run_in_transaction
    assert mongoengine.async_context_managers.__all__  # a module, as in the fork
    assert mongoengine.base.datastructures.AsyncReferenceProxy is AsyncReferenceProxy
    assert mongoengine.base.AsyncReferenceProxy is AsyncReferenceProxy
    assert "AsyncReferenceProxy" in mongoengine.base.datastructures.__all__
    for name in ("connect_async", "disconnect_async", "disconnect_all_async", "get_async_db"):
        assert getattr(mongoengine.connection, name) is getattr(mongoengine, name)
        assert name in mongoengine.connection.__all__
    assert mongoengine.connection.is_async_connection is is_async_connection


class FkIndexed(Document):
    name = StringField()
    meta = {"indexes": ["name"]}


async def test_async_get_collection_is_the_prepared_async_collection(any_async_db: Any) -> None:
    collection = await FkIndexed._async_get_collection()
    assert collection.name == "fk_indexed"
    assert collection.database.name == any_async_db.name
    assert "name_1" in await collection.index_information()  # prepared on first use
    await collection.insert_one({"name": "raw"})
    assert (await FkIndexed.objects.async_get()).name == "raw"


async def test_an_unfetched_proxy_repr_names_its_field_without_io(any_async_db: Any) -> None:
    from mongoengine import CachedReferenceField, async_query_counter

    class FkCard(Document):
        owner = ReferenceField(FkUser)
        readers = ListField(ReferenceField(FkUser))
        cached = CachedReferenceField(FkUser, fields=["name"])
        anything = GenericReferenceField()

    ada = await FkUser(name="ada").async_save()
    await FkCard(owner=ada, readers=[ada], cached=ada, anything=ada).async_save()
    card = await FkCard.objects.async_first()
    on_server = isinstance(any_async_db, AsyncDatabase)  # (mongomock sends no commands)
    async with async_query_counter() if on_server else nullcontext(0) as queries:
        texts = [repr(card.owner), repr(card.readers[0]), repr(card.cached), repr(card.anything)]
    assert queries == 0
    assert texts == [
        "<AsyncReferenceProxy: owner (unfetched)>",
        "<AsyncReferenceProxy: readers (unfetched)>",
        "<AsyncReferenceProxy: cached (unfetched)>",
        "<AsyncReferenceProxy: anything (unfetched)>",
    ]
    proxy = card.owner
    await proxy.fetch()
    assert repr(proxy) == "<AsyncReferenceProxy: owner (fetched)>"
    assert repr(AsyncReferenceProxy(FkUser, ada.pk)) == "<AsyncReferenceProxy: FkUser (unfetched)>"
    import copy

    assert repr(copy.deepcopy(card.readers[0])) == "<AsyncReferenceProxy: readers (unfetched)>"
    await FkCard.async_drop_collection()


def test_the_reference_loader_still_works_as_mongoengine_declares_it(sync_db: Any) -> None:
    """``_lazy_load_ref`` stays callable from the class with MongoEngine's two arguments,
    and sync classes still load the document."""
    user = FkSyncUser(name="s").save()
    loaded = ReferenceField._lazy_load_ref(FkSyncUser, user.to_dbref())
    assert isinstance(loaded, FkSyncUser) and loaded.name == "s"
    post = FkSyncPost.objects.get(pk=FkSyncPost(author=user).save().pk)
    assert post.author == user and post.author.name == "s"


def test_every_listed_difference_from_the_fork_is_explained_in_the_docs() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    listed = [
        line.partition("#")[0].strip()
        for line in (root / ".ci" / "fork_suite" / "differences.txt").read_text().splitlines()
        if line.partition("#")[0].strip()
    ]
    docs = (root / "docs" / "migrating.md").read_text()
    section = docs[docs.index("## Differences from the PR #2891 fork") :]
    assert listed
    for test_id in listed:
        assert test_id.removeprefix("tests/") in section, test_id
