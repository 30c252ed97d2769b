"""The workloads: each runs the same operations four ways.

``raw`` is PyMongo's ``AsyncMongoClient`` with hand-written dicts, ``sync`` is plain sync
MongoEngine, ``engine`` the async engine, ``repository`` the mongo adapter (entities in
and out) inside an open unit of work.  Each variant method runs ``ops`` operations;
``reset`` (untimed) restores the data a destructive workload consumed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from bson import ObjectId

from adapters.mongo import MongoQueries, MongoUnitOfWork
from domain.aggregation import Aggregation, Sum
from domain.aggregation import Count as CountRows
from domain.entities import User
from domain.specs import ALL, Change, Changes, F
from persistence.models import registry
from persistence.registry import Registry

from .models import (
    AsyncArticle,
    AsyncBulk,
    AsyncPerson,
    AsyncWide,
    SyncArticle,
    SyncBulk,
    SyncPerson,
    SyncWide,
    Wide,
    wide_row,
)

__all__ = ["WORKLOADS", "Bench", "Workload"]

PEOPLE = 300  # stored people per variant
WIDE = 5000  # stored wide documents

GROUP = [
    {"$group": {"_id": "$category", "count": {"$sum": 1}, "total": {"$sum": "$price"}}},
    {"$sort": {"_id": 1}},
]


WIDE = Registry()
WIDE.add(Wide, AsyncWide, name="wide")
BULK = Registry()
BULK.add(Wide, AsyncBulk, name="bulk")


@dataclass
class Bench:
    """What the workloads run against: one database, reached four ways."""

    raw: Any  # AsyncDatabase of a plain AsyncMongoClient
    sync: Any  # the sync MongoEngine connection's Database
    uow: MongoUnitOfWork | None = None  # open while the repository variant runs

    def wide_repository(self) -> MongoQueries[Wide]:
        assert self.uow is not None
        return MongoQueries(self.uow, WIDE.registration(Wide))

    def bulk_repository(self) -> MongoQueries[Wide]:
        assert self.uow is not None
        return MongoQueries(self.uow, BULK.registration(Wide))


def _person(i: int, tag: str) -> dict[str, Any]:
    return {
        "name": f"p{i}",
        "email": f"{tag}{i}@example.com",
        "active": i % 2 == 0,
        "version": 0,
    }


class Workload:
    """Base: ``ops`` operations per timed run."""

    name: ClassVar[str]
    ops: ClassVar[int] = 300
    unit: ClassVar[str] = "operation"

    async def prepare(self, b: Bench) -> None:
        """Create the data every variant reads (untimed, once)."""

    async def reset(self, b: Bench) -> None:
        """Restore what a run consumed (untimed, before every run)."""

    async def raw(self, b: Bench) -> None:
        raise NotImplementedError

    def sync(self, b: Bench) -> None:
        raise NotImplementedError

    async def engine(self, b: Bench) -> None:
        raise NotImplementedError

    async def repository(self, b: Bench) -> None:
        raise NotImplementedError


class SaveNew(Workload):
    name = "save (new document)"

    def __init__(self) -> None:
        self.round = 0

    async def reset(self, b: Bench) -> None:
        self.round += 1

    async def raw(self, b: Bench) -> None:
        people = b.raw["people_raw"]
        for i in range(self.ops):
            await people.insert_one(_person(i, f"r{self.round}-"))

    def sync(self, b: Bench) -> None:
        for i in range(self.ops):
            SyncPerson(**_person(i, f"s{self.round}-")).save()

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            await AsyncPerson(**_person(i, f"e{self.round}-")).async_save()

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for i in range(self.ops):
            await b.uow.users.add(User(name=f"p{i}", email=f"u{self.round}-{i}@example.com"))


class _People(Workload):
    """Workloads over 300 stored people per variant."""

    async def prepare(self, b: Bench) -> None:
        if await b.raw["people_raw"].count_documents({"email": "k0@example.com"}):
            return
        rows = [_person(i, "k") for i in range(PEOPLE)]
        await b.raw["people_raw"].insert_many([dict(r) for r in rows])
        SyncPerson.objects.insert([SyncPerson(**r) for r in rows], load_bulk=False)
        await AsyncPerson.objects.async_insert([AsyncPerson(**r) for r in rows], load_bulk=False)
        async with MongoUnitOfWork(registry) as uow:
            await uow.users.add_many(
                [User(name=r["name"], email=r["email"], active=r["active"]) for r in rows]
            )
            await uow.commit()


class SaveChanged(_People):
    name = "save (one changed field)"

    async def reset(self, b: Bench) -> None:
        emails = [f"k{i}@example.com" for i in range(self.ops)]
        people = b.raw["people_raw"]
        self.raw_ids = [d["_id"] async for d in people.find({"email": {"$in": emails}})]
        self.sync_docs = list(SyncPerson.objects(email__in=emails))
        self.engine_docs = await AsyncPerson.objects(email__in=emails).async_to_list()
        async with MongoUnitOfWork(registry) as uow:
            self.entities = await uow.users.find(F("email").in_(emails))
        self.round = getattr(self, "round", 0) + 1

    async def raw(self, b: Bench) -> None:
        people = b.raw["people_raw"]
        for oid in self.raw_ids:
            await people.update_one({"_id": oid}, {"$set": {"name": f"n{self.round}"}})

    def sync(self, b: Bench) -> None:
        for doc in self.sync_docs:
            doc.name = f"n{self.round}"
            doc.save()

    async def engine(self, b: Bench) -> None:
        for doc in self.engine_docs:
            doc.name = f"n{self.round}"
            await doc.async_save()

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for entity in self.entities:
            entity.name = f"n{self.round}"
            await b.uow.users.save(entity)


class GetByField(_People):
    name = "get by field"

    async def raw(self, b: Bench) -> None:
        for i in range(self.ops):
            await b.raw["people_raw"].find_one({"email": f"k{i}@example.com"})

    def sync(self, b: Bench) -> None:
        for i in range(self.ops):
            SyncPerson.objects.get(email=f"k{i}@example.com")

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            await AsyncPerson.objects.async_get(email=f"k{i}@example.com")

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for i in range(self.ops):
            await b.uow.users.first(F("email") == f"k{i}@example.com")


class First(_People):
    name = "first"

    async def raw(self, b: Bench) -> None:
        for _ in range(self.ops):
            await b.raw["people_raw"].find_one({})

    def sync(self, b: Bench) -> None:
        for _ in range(self.ops):
            SyncPerson.objects.first()

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await AsyncPerson.objects.async_first()

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for _ in range(self.ops):
            await b.uow.users.first()


class Count(_People):
    name = "count"
    ops = 60  # each count scans the collection on the server

    async def raw(self, b: Bench) -> None:
        for _ in range(self.ops):
            await b.raw["people_raw"].count_documents({"active": True})

    def sync(self, b: Bench) -> None:
        for _ in range(self.ops):
            SyncPerson.objects(active=True).count()

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await AsyncPerson.objects(active=True).async_count()

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for _ in range(self.ops):
            await b.uow.users.count(F("active") == True)  # noqa: E712


class UpdateOneInc(_People):
    name = "update_one with inc"

    async def raw(self, b: Bench) -> None:
        for i in range(self.ops):
            await b.raw["people_raw"].update_one(
                {"email": f"k{i}@example.com"}, {"$inc": {"version": 1}}
            )

    def sync(self, b: Bench) -> None:
        for i in range(self.ops):
            SyncPerson.objects(email=f"k{i}@example.com").update_one(inc__version=1)

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            await AsyncPerson.objects(email=f"k{i}@example.com").async_update_one(inc__version=1)

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        # the repository bumps ``version`` itself on every update
        for i in range(self.ops):
            await b.uow.users.update_where(
                F("email") == f"k{i}@example.com", Changes((Change("set", "active", True),))
            )


class Iterate(Workload):
    name = "iterate (per document, 5,000 docs)"
    ops = 5000
    unit = "document"

    async def prepare(self, b: Bench) -> None:
        if await b.raw["wide"].count_documents({}) == 0:
            await b.raw["wide"].insert_many([wide_row(i) for i in range(WIDE)])

    async def raw(self, b: Bench) -> None:
        await b.raw["wide"].find().to_list()

    def sync(self, b: Bench) -> None:
        list(SyncWide.objects)

    async def engine(self, b: Bench) -> None:
        [d async for d in AsyncWide.objects]

    async def repository(self, b: Bench) -> None:
        [e async for e in b.wide_repository().iterate(batch_size=1000)]


class _Bulk(Workload):
    """Workloads that rewrite or remove 1,000 documents per operation."""

    ops = 5
    unit = "call over 1,000 docs"

    async def reset(self, b: Bench) -> None:
        for name in ("bulk_raw", "bulk_sync", "bulk_engine", "bulk"):
            await b.raw[name].delete_many({})
            await b.raw[name].insert_many([wide_row(i) for i in range(1000)])


class UpdateMany(_Bulk):
    name = "async_update over 1,000 docs"

    async def raw(self, b: Bench) -> None:
        for _ in range(self.ops):
            await b.raw["bulk_raw"].update_many({}, {"$inc": {"n": 1}})

    def sync(self, b: Bench) -> None:
        for _ in range(self.ops):
            SyncBulk.objects.update(inc__n=1)

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await AsyncBulk.objects.async_update(inc__n=1)

    async def repository(self, b: Bench) -> None:
        for _ in range(self.ops):
            await b.bulk_repository().update_where(ALL, Changes((Change("inc", "n", 1),)))


class DeleteMany(_Bulk):
    name = "async_delete over 1,000 docs"
    ops = 1

    async def raw(self, b: Bench) -> None:
        await b.raw["bulk_raw"].delete_many({})

    def sync(self, b: Bench) -> None:
        SyncBulk.objects.delete()

    async def engine(self, b: Bench) -> None:
        await AsyncBulk.objects.async_delete()

    async def repository(self, b: Bench) -> None:
        await b.bulk_repository().remove_where(ALL)


class InsertMany(Workload):
    name = "async_insert of 10,000 docs (per document)"
    ops = 10_000
    unit = "document"

    async def reset(self, b: Bench) -> None:
        for name in ("bulk_raw", "bulk_sync", "bulk_engine", "bulk"):
            await b.raw[name].delete_many({})
        self.rows = [wide_row(i) for i in range(self.ops)]

    async def raw(self, b: Bench) -> None:
        await b.raw["bulk_raw"].insert_many([dict(r) for r in self.rows])

    def sync(self, b: Bench) -> None:
        SyncBulk.objects.insert([SyncBulk(**r) for r in self.rows], load_bulk=False)

    async def engine(self, b: Bench) -> None:
        await AsyncBulk.objects.async_insert([AsyncBulk(**r) for r in self.rows], load_bulk=False)

    async def repository(self, b: Bench) -> None:
        await b.bulk_repository().add_many([Wide(**r) for r in self.rows])


class GroupAggregate(Iterate):
    name = "async_aggregate (group over 5,000 docs)"
    ops = 20
    unit = "pipeline"

    async def raw(self, b: Bench) -> None:
        for _ in range(self.ops):
            await (await b.raw["wide"].aggregate(GROUP)).to_list()

    def sync(self, b: Bench) -> None:
        for _ in range(self.ops):
            list(SyncWide.objects.aggregate(GROUP))

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await (await AsyncWide.objects.async_aggregate(GROUP)).to_list()

    async def repository(self, b: Bench) -> None:
        group = Aggregation(by=["category"], values={"count": CountRows(), "total": Sum("price")})
        for _ in range(self.ops):
            await b.wide_repository().aggregate(group)


class SelectRelated(Workload):
    name = "async_select_related (1,000 docs, 50 authors)"
    ops = 3
    unit = "call over 1,000 docs"

    async def prepare(self, b: Bench) -> None:
        if await b.raw["articles_raw"].count_documents({}):
            return
        rng = random.Random(1)
        authors = [{"_id": ObjectId(), "name": f"a{i}"} for i in range(50)]
        articles = [
            {"title": f"t{i}", "author": rng.choice(authors)["_id"]} for i in range(1000)
        ]
        for prefix in ("authors_raw", "authors_sync", "authors_engine", "authors"):
            await b.raw[prefix].insert_many([dict(a) for a in authors])
        for name in ("articles_raw", "articles_sync", "articles_engine"):
            await b.raw[name].insert_many([dict(a) for a in articles])
        books = [
            {"title": a["title"], "author_id": a["author"], "attachments": [], "version": 0}
            for a in articles
        ]
        await b.raw["books"].insert_many(books)  # the repository's own collections

    async def raw(self, b: Bench) -> None:
        for _ in range(self.ops):
            articles = await b.raw["articles_raw"].find().to_list()
            ids = list({a["author"] for a in articles})
            authors = {
                a["_id"]: a async for a in b.raw["authors_raw"].find({"_id": {"$in": ids}})
            }
            for article in articles:
                article["author"] = authors[article["author"]]

    def sync(self, b: Bench) -> None:
        for _ in range(self.ops):
            SyncArticle.objects.select_related(max_depth=1)

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await AsyncArticle.objects.async_select_related(max_depth=1)

    async def repository(self, b: Bench) -> None:
        assert b.uow is not None
        for _ in range(self.ops):
            await b.uow.books.find_related(with_related=("author",))


WORKLOADS: list[Workload] = [
    SaveNew(),
    SaveChanged(),
    GetByField(),
    First(),
    Count(),
    UpdateOneInc(),
    Iterate(),
    UpdateMany(),
    DeleteMany(),
    InsertMany(),
    GroupAggregate(),
    SelectRelated(),
]
