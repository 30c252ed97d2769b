"""QuerySet twins: reads, iteration, projections, writes; compared with sync MongoEngine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mongoengine import (
    CASCADE,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    ReferenceField,
    StringField,
    signals,
)
from mongoengine.errors import DoesNotExist, MultipleObjectsReturned
from pymongo import monitoring
from pymongo.results import UpdateResult

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, disconnect_async


class Address(EmbeddedDocument):
    city = StringField()


class Grade(EmbeddedDocument):
    subject = StringField()
    score = IntField()


def _fields() -> dict[str, Any]:
    return {
        "name": StringField(),
        "n": IntField(default=0),
        "tags": ListField(StringField()),
        "address": EmbeddedDocumentField(Address),
        "grades": EmbeddedDocumentListField(Grade),
        "old": StringField(),
    }


Item = type("Item", (Document,), {**_fields(), "meta": {"collection": "items", "indexes": ["n"]}})
SyncItem = type(
    "SyncItem",
    (Document,),
    {**_fields(), "meta": {"collection": "items", "indexes": ["n"], "db_alias": "sync"}},
)


class Shelf(Document):
    name = StringField()


class Book(Document):
    title = StringField()
    shelf = ReferenceField(Shelf, reverse_delete_rule=CASCADE)


SEED = [
    {"name": "a", "n": 1, "tags": ["x", "y"], "address": {"city": "Oslo"}},
    {"name": "b", "n": 2, "tags": ["y"], "address": {"city": "Rome"}},
    {"name": "c", "n": 3, "tags": [], "address": {"city": "Oslo"}},
    {"name": "d", "n": 4, "tags": ["x"]},
    {"name": "e", "n": 5},
]


async def _seed(db: Any) -> None:
    await db["items"].insert_many([dict(d) for d in SEED])


async def test_reads_match_sync_mongoengine(async_db: Any, sync_db: Any) -> None:
    await _seed(async_db)
    qs, sq = Item.objects, SyncItem.objects
    assert (await qs.async_get(name="b")).n == sq.get(name="b").n == 2
    for kwargs, error in (({"name": "zz"}, DoesNotExist), ({"tags": "x"}, MultipleObjectsReturned)):
        with pytest.raises(error):
            await qs.async_get(**kwargs)
        with pytest.raises(error):
            sq.get(**kwargs)
    assert (await qs.order_by("-n").async_first()).name == sq.order_by("-n").first().name == "e"
    assert await qs.skip(1).limit(2).async_count() == sq.skip(1).limit(2).count() == 5
    assert await qs.skip(1).limit(2).async_count(with_limit_and_skip=True) == 2
    assert await qs(n__gt=2).async_exists() and not await qs(n__gt=9).async_exists()
    doc = await qs.async_get(name="a")
    assert (await qs.async_with_id(doc.id)).name == "a"
    bulk = await qs.async_in_bulk([doc.id])
    assert list(bulk) == [doc.id] and bulk[doc.id].name == "a"
    assert sorted(await qs.async_distinct("tags")) == sorted(sq.distinct("tags")) == ["x", "y"]
    assert sorted(await qs.async_distinct("address.city")) == ["Oslo", "Rome"]
    assert await qs.async_sum("n") == sq.sum("n") == 15
    assert await qs(n__lte=2).async_average("n") == sq(n__lte=2).average("n") == 1.5
    assert await qs.async_item_frequencies("tags") == {"x": 2, "y": 2, None: 1}
    assert await qs.async_item_frequencies("address.city", normalize=True) == {
        "Oslo": 0.4,
        "Rome": 0.2,
        None: 0.4,
    }
    plan = await qs(n=1).async_explain()
    assert isinstance(plan, dict) and plan
    assert [i.name for i in await qs.order_by("n").async_to_list()] == ["a", "b", "c", "d", "e"]


async def test_reads_on_an_empty_collection(any_async_db: Any) -> None:
    qs = Item.objects
    assert await qs.async_first() is None
    assert await qs.async_count() == 0
    assert await qs.async_exists() is False
    assert await qs.async_to_list() == []
    assert [i async for i in qs] == []
    assert await qs.async_distinct("name") == []
    assert await qs.async_sum("n") == 0
    assert await qs.async_average("n") == 0
    assert await qs.async_item_frequencies("name") == {}
    assert await qs.async_values_list("name", flat=True) == []
    with pytest.raises(DoesNotExist):
        await qs.async_get(name="x")


async def test_async_for_over_a_long_chain_equals_sync(async_db: Any, sync_db: Any) -> None:
    await _seed(async_db)
    await async_db["items"].insert_many([{"name": f"z{i}", "n": 10 + i} for i in range(20)])

    def chain(qs: Any) -> Any:
        return (
            qs.filter(n__gte=2)
            .order_by("-n")
            .skip(2)
            .limit(15)
            .only("name", "n")
            .batch_size(4)
            .comment("chain")
            .hint([("n", 1)])
            .collation({"locale": "en"})
            .timeout(False)
            .no_cache()
        )

    sync_rows = [(i.name, i.n, i.tags) for i in chain(SyncItem.objects)]
    async_rows = [(i.name, i.n, i.tags) async for i in chain(Item.objects)]
    assert async_rows == sync_rows and len(async_rows) == 15
    assert async_rows[0] == ("z17", 27, [])
    excluded = [i async for i in Item.objects(name="a").exclude("tags")]
    assert excluded[0].tags == [] and excluded[0].n == 1
    fields = [i async for i in Item.objects(name="a").fields(n=1)]
    assert fields[0].name is None and fields[0].n == 1
    raw = [d async for d in Item.objects(name="a").as_pymongo().only("name")]
    assert raw == [{"_id": raw[0]["_id"], "name": "a"}]
    assert [v async for v in Item.objects.order_by("n").scalar("name").limit(2)] == ["a", "b"]
    pairs = [v async for v in Item.objects.order_by("n").values_list("name", "n").limit(2)]
    assert pairs == [("a", 1), ("b", 2)]


async def test_projections(any_async_db: Any) -> None:
    await _seed(any_async_db)
    qs = Item.objects.order_by("n").limit(2)
    assert await qs.async_values_list("name", flat=True) == ["a", "b"]
    assert await qs.async_values_list("name") == [("a",), ("b",)]
    assert await qs.async_values_list("name", "n") == [("a", 1), ("b", 2)]
    assert await qs.async_values("name", "n") == [{"name": "a", "n": 1}, {"name": "b", "n": 2}]
    with pytest.raises(TypeError):
        await qs.async_values_list("name", "n", flat=True)


class Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None: ...

    def failed(self, event: Any) -> None: ...


@pytest.fixture
async def recorded(mongodb_uri: str, db_name: str) -> AsyncIterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    client = await connect_async(db_name, host=mongodb_uri, event_listeners=[recorder])
    try:
        yield client[db_name], recorder
    finally:
        await client.drop_database(db_name)
        await disconnect_async()


async def test_async_for_over_10000_documents_holds_one_batch(
    recorded: tuple[Any, Recorder],
) -> None:
    db, recorder = recorded
    await db["items"].insert_many([{"name": f"i{i}", "n": i} for i in range(10_000)])
    await Item.async_ensure_indexes()
    recorder.names.clear()
    iterator = Item.objects.order_by("n").batch_size(500).__aiter__()
    seen, largest = [], 0
    async for item in iterator:
        seen.append(item.n)
        largest = max(largest, len(iterator._cursor._data) + 1)
    assert seen == list(range(10_000))
    assert largest <= 500
    assert recorder.names.count("find") == 1
    assert 19 <= recorder.names.count("getMore") <= 21


async def test_create_insert_and_bulk_signals(any_async_db: Any) -> None:
    seen: list[Any] = []

    def pre(sender: Any, documents: Any, **kwargs: Any) -> None:
        seen.append(("pre", len(documents)))

    def post(sender: Any, documents: Any, loaded: bool, **kwargs: Any) -> None:
        seen.append(("post", len(documents), loaded))

    signals.pre_bulk_insert.connect(pre, sender=Item)
    signals.post_bulk_insert.connect(post, sender=Item)
    try:
        created = await Item.objects.async_create(name="c1", n=1)
        docs = await Item.objects.async_insert([Item(name="i1"), Item(name="i2")])
        ids = await Item.objects.async_insert([Item(name="i3")], load_bulk=False)
    finally:
        signals.pre_bulk_insert.disconnect(pre, sender=Item)
        signals.post_bulk_insert.disconnect(post, sender=Item)
    assert created.id is not None and all(d.id is not None for d in docs)
    assert len(ids) == 1 and not isinstance(ids[0], Document)
    assert seen == [("pre", 2), ("post", 2, True), ("pre", 1), ("post", 1, False)]
    names = sorted(d["name"] for d in await any_async_db["items"].find().to_list())
    assert names == ["c1", "i1", "i2", "i3"]


UPDATES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"name": "a"}, {"set__n": 10}),
    ({"name": "a"}, {"unset__old": True}),
    ({"name": "b"}, {"inc__n": 5}),
    ({"name": "b"}, {"dec__n": 1}),
    ({"name": "c"}, {"mul__n": 4}),
    ({"name": "c"}, {"max__n": 100}),
    ({"name": "d"}, {"min__n": -1}),
    ({"name": "a"}, {"push__tags": "z"}),
    ({"name": "a"}, {"push_all__tags": ["p", "q"]}),
    ({"name": "a"}, {"pull__tags": "x"}),
    ({"name": "a"}, {"pull_all__tags": ["p", "q"]}),
    ({"name": "b"}, {"add_to_set__tags": "y"}),
    ({"name": "b"}, {"add_to_set__tags": "w"}),
    ({"name": "a"}, {"pop__tags": 1}),
    ({"name": "e"}, {"rename__old": "renamed"}),
    ({"tags": "y"}, {"set__tags__S": "Y"}),
]


async def test_update_operators_match_sync_mongoengine(async_db: Any, sync_db: Any) -> None:
    await _seed(async_db)
    await async_db["items"].update_many({}, {"$set": {"old": "o"}})
    for query, update in UPDATES:
        await Item.objects(**query).async_update(**update)
    async_state = await async_db["items"].find({}, {"_id": 0}).sort("name").to_list()

    await async_db["items"].delete_many({})
    await _seed(async_db)
    await async_db["items"].update_many({}, {"$set": {"old": "o"}})
    for query, update in UPDATES:
        SyncItem.objects(**query).update(**update)
    sync_state = list(sync_db["items"].find({}, {"_id": 0}).sort("name"))
    assert async_state == sync_state
    first = async_state[0]
    assert (first["n"], first["tags"], "old" in first) == (10, ["Y"], False)
    assert async_state[4]["renamed"] == "o"


async def test_update_results_upserts_and_array_filters(async_db: Any) -> None:
    await async_db["items"].insert_one(
        {"name": "g", "grades": [{"subject": "m", "score": 1}, {"subject": "p", "score": 2}]}
    )
    result = await Item.objects(name="g").async_update(inc__n=1, full_result=True)
    assert isinstance(result, UpdateResult) and result.modified_count == 1
    await Item.objects(name="g").async_update(
        __raw__={"$set": {"grades.$[g].score": 9}}, array_filters=[{"g.subject": "p"}]
    )
    assert await Item.objects(name="new").async_update_one(set__n=7, upsert=True) == 1
    assert await Item.objects(name="w").async_update(set__n=1, write_concern={"w": 1}) == 0
    upserted = await Item.objects(name="up").async_upsert_one(set__n=3)
    assert upserted.name == "up" and upserted.n == 3
    doc = await async_db["items"].find_one({"name": "g"})
    assert [g["score"] for g in doc["grades"]] == [1, 9] and doc["n"] == 1
    assert await async_db["items"].count_documents({"name": {"$in": ["new", "up"]}}) == 2


async def test_async_modify_variants(any_async_db: Any) -> None:
    await _seed(any_async_db)
    old = await Item.objects(name="a").async_modify(inc__n=1)
    assert old.n == 1
    new = await Item.objects(name="a").async_modify(inc__n=1, new=True)
    assert new.n == 3
    created = await Item.objects(name="zz").async_modify(upsert=True, new=True, set__n=9)
    assert created.n == 9
    removed = await Item.objects(name="b").async_modify(remove=True)
    assert removed.name == "b"
    assert await Item.objects(name="nothing").async_modify(set__n=1) is None
    names = sorted(d["name"] for d in await any_async_db["items"].find().to_list())
    assert names == ["a", "c", "d", "e", "zz"]


async def test_async_delete_counts_and_cascades(any_async_db: Any) -> None:
    shelf = await Shelf(name="s").async_save()
    other = await Shelf(name="o").async_save()
    for i in range(3):
        await Book(title=f"b{i}", shelf=shelf).async_save()
    await Book(title="keep", shelf=other).async_save()
    assert await Shelf.objects(name="s").async_delete() == 1
    assert [d["title"] for d in await any_async_db["book"].find().to_list()] == ["keep"]
    assert await Shelf.objects(name="none").async_delete() == 0


async def test_async_aggregate_applies_the_queryset_first(async_db: Any, sync_db: Any) -> None:
    await _seed(async_db)
    pipeline = [{"$project": {"_id": 0, "name": 1}}]
    cursor = await Item.objects(n__gte=2).order_by("-n").skip(1).limit(2).async_aggregate(pipeline)
    rows = await cursor.to_list()
    expected = list(SyncItem.objects(n__gte=2).order_by("-n").skip(1).limit(2).aggregate(pipeline))
    assert rows == expected == [{"name": "d"}, {"name": "c"}]
    cursor = await Item.objects.async_aggregate([{"$group": {"_id": None, "t": {"$sum": "$n"}}}])
    assert [d["t"] async for d in cursor] == [15]
