"""References on async aliases: proxies without I/O, explicit and batched loading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import DBRef
from mongoengine import (
    CachedReferenceField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    GenericReferenceField,
    LazyReferenceField,
    ListField,
    MapField,
    ReferenceField,
    StringField,
)
from mongoengine.errors import DoesNotExist
from pymongo import monitoring

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, disconnect_async
from persistence.engine.references import AsyncReferenceProxy


class Author(Document):
    name = StringField()


class Tag(Document):
    label = StringField()


class Note(EmbeddedDocument):
    by = ReferenceField(Author)


class Article(Document):
    title = StringField()
    author = ReferenceField(Author)
    coauthors = ListField(ReferenceField(Author))
    by_role = DictField(ReferenceField(Author))
    by_key = MapField(ReferenceField(Author))
    tags = ListField(ReferenceField(Tag))
    lazy = LazyReferenceField(Author)
    anything = GenericReferenceField()
    cached = CachedReferenceField(Author, fields=["name"])
    note = EmbeddedDocumentField(Note)
    nested = ListField(ListField(ReferenceField(Author)))


class SyncAuthor(Document):
    name = StringField()
    meta = {"db_alias": "sync", "collection": "author"}


class SyncArticle(Document):
    title = StringField()
    author = ReferenceField(SyncAuthor)
    meta = {"db_alias": "sync", "collection": "article"}


class Counter(monitoring.CommandListener):
    """Collections read by ``find`` (MongoEngine's dereferencing also sends a trailing
    ``{"_id": {"$in": []}}``, which reads nothing; it is recorded apart)."""

    def __init__(self) -> None:
        self.finds: list[str] = []
        self.empty: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            if event.command.get("filter") == {"_id": {"$in": []}}:
                self.empty.append(event.command["find"])
            else:
                self.finds.append(event.command["find"])

    def succeeded(self, event: Any) -> None: ...

    def failed(self, event: Any) -> None: ...


@pytest.fixture
async def counted(mongodb_uri: str, db_name: str) -> AsyncIterator[tuple[Any, Counter]]:
    counter = Counter()
    client = await connect_async(db_name, host=mongodb_uri, event_listeners=[counter])
    try:
        yield client[db_name], counter
    finally:
        await client.drop_database(db_name)
        await disconnect_async()


async def _setup() -> tuple[Author, Author, Tag]:
    ann = await Author(name="Ann").async_save()
    bob = await Author(name="Bob").async_save()
    tag = await Tag(label="t").async_save()
    await Article(
        title="a",
        author=ann,
        coauthors=[ann, bob],
        by_role={"editor": bob},
        by_key={"k": ann},
        tags=[tag],
        lazy=bob,
        anything=tag,
        cached=ann,
        note=Note(by=bob),
        nested=[[ann], [bob]],
    ).async_save()
    return ann, bob, tag


async def test_reference_is_a_proxy_known_without_io(counted: tuple[Any, Counter]) -> None:
    _, counter = counted
    ann, bob, _ = await _setup()
    article = await Article.objects.async_first()
    counter.finds.clear()
    proxy = article.author
    assert isinstance(proxy, AsyncReferenceProxy) and isinstance(proxy, DBRef)
    assert proxy.id == proxy.pk == ann.id
    assert proxy == ann and proxy == ann.id and proxy != bob
    assert proxy.to_dbref() == DBRef("author", ann.id)
    assert repr(proxy) == "<AsyncReferenceProxy: author (unfetched)>"
    with pytest.raises(AttributeError, match="async_fetch"):
        proxy.name  # noqa: B018
    assert article.cached.name == "Ann"  # cached fields need no I/O
    assert counter.finds == []


async def test_async_fetch_loads_once(counted: tuple[Any, Counter]) -> None:
    _, counter = counted
    await _setup()
    article = await Article.objects.async_first()
    counter.finds.clear()
    proxy = article.author
    first = await proxy.async_fetch()
    second = await proxy.async_fetch()
    assert first is second and first.name == "Ann" and proxy.name == "Ann"
    assert counter.finds == ["author"]
    assert (await article.author.async_fetch()) is first  # remembered on the document too
    assert counter.finds == ["author"]
    await proxy.async_fetch(force=True)
    assert counter.finds == ["author", "author"]


async def test_dangling_and_none_references(async_db: Any) -> None:
    ghost = await Author(name="ghost").async_save()
    await Article(title="d", author=ghost).async_save()
    await Article(title="n").async_save()
    await async_db["author"].delete_many({})
    dangling = await Article.objects.async_get(title="d")
    with pytest.raises(DoesNotExist, match="unknown document"):
        await dangling.author.async_fetch()
    empty = await Article.objects.async_get(title="n")
    assert empty.author is None and empty.coauthors == [] and empty.lazy is None


async def test_references_inside_containers_are_proxies(async_db: Any) -> None:
    ann, bob, tag = await _setup()
    article = await Article.objects.async_first()
    assert all(isinstance(r, AsyncReferenceProxy) for r in article.coauthors)
    assert [r.id for r in article.coauthors] == [ann.id, bob.id]
    assert isinstance(article.by_role["editor"], AsyncReferenceProxy)
    assert article.by_key["k"] == ann
    assert article.tags[0] == tag
    assert article.note.by == bob and isinstance(article.note.by, AsyncReferenceProxy)
    assert [[r.id for r in inner] for inner in article.nested] == [[ann.id], [bob.id]]
    names = [(await r.async_fetch()).name for r in article.coauthors]
    assert names == ["Ann", "Bob"]


async def test_lazy_generic_and_cached_references(async_db: Any) -> None:
    ann, _, tag = await _setup()
    article = await Article.objects.async_first()
    with pytest.raises(RuntimeError, match="async_fetch"):
        article.lazy.fetch()
    assert (await article.lazy.async_fetch()).name == "Bob"
    assert (await article.lazy.async_fetch(force=True)).name == "Bob"
    generic = article.anything
    assert isinstance(generic, AsyncReferenceProxy) and generic.document_type is Tag
    assert (await generic.async_fetch()).label == "t"
    assert (await article.cached.async_fetch()).name == "Ann"
    article.title = "changed"
    await article.async_save()  # proxies are written back as the references they are
    raw = await async_db["article"].find_one()
    assert raw["author"] == ann.id
    assert raw["anything"] == {"_cls": "Tag", "_ref": DBRef("tag", tag.id)}
    assert raw["cached"] == {"_id": ann.id, "name": "Ann"}


async def test_select_related_is_one_query_per_collection(counted: tuple[Any, Counter]) -> None:
    _, counter = counted
    ann, bob, tag = await _setup()
    for i in range(4):
        await Article(title=f"x{i}", author=bob, coauthors=[ann, bob], tags=[tag]).async_save()
    article = await Article.objects.async_first()
    counter.finds.clear()
    await article.async_select_related()
    assert sorted(counter.finds) == ["author", "tag"]
    assert len(counter.empty) <= 1
    assert article.author.name == "Ann" and article.coauthors[1].name == "Bob"
    counter.finds.clear()
    articles = await Article.objects.async_select_related()
    assert len(articles) == 5
    assert sorted(counter.finds) == ["article", "author", "tag"]
    assert {a.author.name for a in articles} == {"Ann", "Bob"}
    assert all(t.label == "t" for a in articles for t in a.tags)


async def test_a_sync_alias_keeps_automatic_dereferencing(sync_db: Any) -> None:
    author = SyncAuthor(name="Sync").save()
    SyncArticle(title="s", author=author).save()
    article = SyncArticle.objects.first()
    assert isinstance(article.author, SyncAuthor) and article.author.name == "Sync"
