"""The repository layer against the engine: the same work, written both ways.

A service team declares an entity and its Document and uses the repository; the same
team could call the engine on the Document directly.  Each workload does one piece of
work both ways (``engine`` and ``repository``) on its own collection of the same shape
and data, so the ratio is the repository layer's own cost: mapping to and from
entities, spec compilation, the unit of work's bookkeeping.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import attrs
from bson import ObjectId
from mongoengine import Document, IntField, ListField, StringField

from adapters.mongo import MongoUnitOfWork
from domain.ids import new_id
from domain.ports import QueryRepository
from domain.specs import Changes, F, Order, Page
from persistence.engine import async_run_in_transaction
from persistence.fields import VersionField
from persistence.registry import Registry

__all__ = ["MEMBERS", "WORKLOADS", "Bench", "LayerWorkload", "Member"]

STORED = 300  # members stored per variant, ages 0..299
COUNT_AGE = 150  # count and update select by age
PAGE = 20  # entities per page


@attrs.define(kw_only=True)
class Member:
    """The benchmark's aggregate, as a service team declares one."""

    id: str = attrs.field(factory=new_id)
    name: str
    age: int
    email: str
    tags: list[str] = attrs.field(factory=list)
    score: int = 0
    version: int = 0


def _member_document(class_name: str, collection: str) -> Any:
    fields = {
        "name": StringField(required=True, max_length=100),
        "age": IntField(),
        "email": StringField(required=True),
        "tags": ListField(StringField()),
        "score": IntField(default=0),
        "version": VersionField(),
        "meta": {"collection": collection, "indexes": ["name", "age"]},
    }
    return type(class_name, (Document,), fields)


EngineMember = _member_document("EngineMemberDocument", "layer_members_engine")
MemberDocument = _member_document("MemberDocument", "layer_members_repository")

MEMBERS = Registry()
MEMBERS.add(Member, MemberDocument, name="members")


def member_fields(i: int, tag: str = "p", age: int | None = None) -> dict[str, Any]:
    """Member ``i``'s fields (age ``i`` unless given)."""
    return {
        "name": f"{tag}{i}",
        "age": i if age is None else age,
        "email": f"{tag}{i}@example.com",
        "tags": ["a", "b"],
    }


@dataclass
class Bench:
    """The stored data both variants work on."""

    engine_ids: list[ObjectId] = field(default_factory=list)
    repository_ids: list[str] = field(default_factory=list)
    round: int = 0


async def cpu_per_op(work: Awaitable[Any], ops: int) -> float:
    """Microseconds of client CPU (``time.process_time``) per operation of ``work``."""
    gc.collect()
    start = time.process_time()
    await work
    return (time.process_time() - start) / ops * 1e6


class LayerWorkload:
    """``ops`` operations (or documents) per timed run, in both variants.

    Inside a transaction, the engine's run is one ``async_run_in_transaction`` block and
    the repository's one unit of work; outside, the engine runs bare and the repository
    in a unit of work without transactions.  Opening and committing are not timed (the
    "block" workload times them).
    """

    name: ClassVar[str]
    ops: ClassVar[int] = 300
    unit: ClassVar[str] = "operation"

    async def run_engine(self, b: Bench, inside: bool) -> float:
        if not inside:
            return await cpu_per_op(self.engine(b), self.ops)
        async with async_run_in_transaction():
            return await cpu_per_op(self.engine(b), self.ops)

    async def run_repository(self, b: Bench, inside: bool) -> float:
        async with MongoUnitOfWork(MEMBERS, transactions=inside) as uow:
            cpu = await cpu_per_op(self.repository(b, uow.repo(Member)), self.ops)
            await uow.commit()
        return cpu

    async def reset(self, b: Bench) -> None:
        """Untimed, before each timed run of either variant."""
        b.round += 1

    async def engine(self, b: Bench) -> None:
        raise NotImplementedError

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        raise NotImplementedError


class GetById(LayerWorkload):
    name = "get by id"

    async def engine(self, b: Bench) -> None:
        for oid in b.engine_ids:
            await EngineMember.objects.async_get(pk=oid)

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for entity_id in b.repository_ids:
            await members.get(entity_id)


class FirstByField(LayerWorkload):
    name = "first by field"

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            await EngineMember.objects(name=f"p{i}").async_first()

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for i in range(self.ops):
            await members.first(F("name") == f"p{i}")


class Add(LayerWorkload):
    name = "add"

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            await EngineMember(**member_fields(i, f"e{b.round}-", -1)).async_save()

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for i in range(self.ops):
            await members.add(Member(**member_fields(i, f"r{b.round}-", -1)))


class Save(LayerWorkload):
    """Change one field of a loaded aggregate and save it under its version."""

    name = "save"

    async def reset(self, b: Bench) -> None:
        await super().reset(b)
        self.documents = await EngineMember.objects(pk__in=b.engine_ids).async_to_list()
        async with MongoUnitOfWork(MEMBERS).reading() as uow:
            self.entities = await uow.repo(Member).get_many(b.repository_ids)

    async def engine(self, b: Bench) -> None:
        for document in self.documents:
            version = document.version
            document.score += 1
            document.version = version + 1
            await document.async_save(save_condition={"version": version})

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for entity in self.entities:
            entity.score += 1
            await members.save(entity)


class AddMany(LayerWorkload):
    """Validated documents inserted in one round trip per call (``insert`` does not
    validate, so the engine variant validates first, as ``add_many`` must)."""

    name = "add_many (500 per call)"
    ops = 1500
    unit = "document"

    async def engine(self, b: Bench) -> None:
        for call in range(3):
            tag = f"e{b.round}-{call}-"
            docs = [EngineMember(**member_fields(i, tag, -1)) for i in range(500)]
            for doc in docs:
                doc.validate()
            await EngineMember.objects.async_insert(docs, load_bulk=False)

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for call in range(3):
            tag = f"r{b.round}-{call}-"
            await members.add_many([Member(**member_fields(i, tag, -1)) for i in range(500)])


class FindPage(LayerWorkload):
    name = f"find a page ({PAGE} by age)"
    ops = 100

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            query = EngineMember.objects(age__gte=i).order_by("age", "id").limit(PAGE)
            await query.async_to_list()

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        order = Order.by("age")
        for i in range(self.ops):
            await members.find(F("age") >= i, order=order, page=Page(limit=PAGE))


class UpdateWhere(LayerWorkload):
    name = "update_where (10 matches)"
    ops = 100

    async def engine(self, b: Bench) -> None:
        for i in range(self.ops):
            query = EngineMember.objects(age__gte=i, age__lt=i + 10)
            await query.async_update(inc__score=1, inc__version=1)

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        changes = Changes().inc("score", 1)
        for i in range(self.ops):
            await members.update_where((F("age") >= i) & (F("age") < i + 10), changes)


class Count(LayerWorkload):
    name = "count"

    async def engine(self, b: Bench) -> None:
        for _ in range(self.ops):
            await EngineMember.objects(age__gte=COUNT_AGE).async_count()

    async def repository(self, b: Bench, members: QueryRepository[Member]) -> None:
        for _ in range(self.ops):
            await members.count(F("age") >= COUNT_AGE)


class Block(LayerWorkload):
    """Open a block, get one aggregate, commit: the unit of work's own cost per block."""

    name = "block: open, get one, commit"

    async def run_engine(self, b: Bench, inside: bool) -> float:
        async def blocks() -> None:
            for oid in b.engine_ids:
                if inside:
                    async with async_run_in_transaction():
                        await EngineMember.objects.async_get(pk=oid)
                else:
                    await EngineMember.objects.async_get(pk=oid)

        return await cpu_per_op(blocks(), self.ops)

    async def run_repository(self, b: Bench, inside: bool) -> float:
        uow = MongoUnitOfWork(MEMBERS, transactions=inside)

        async def blocks() -> None:
            for entity_id in b.repository_ids:
                async with uow:
                    await uow.repo(Member).get(entity_id)
                    await uow.commit()

        return await cpu_per_op(blocks(), self.ops)


WORKLOADS: list[LayerWorkload] = [
    GetById(),
    FirstByField(),
    Add(),
    Save(),
    AddMany(),
    FindPage(),
    UpdateWhere(),
    Count(),
    Block(),
]


async def store_members(b: Bench) -> None:
    """The stored members of both variants (untimed, once)."""
    await EngineMember.async_ensure_indexes()
    await MemberDocument.async_ensure_indexes()
    rows = [member_fields(i) for i in range(STORED)]
    docs = [EngineMember(**row) for row in rows]
    await EngineMember.objects.async_insert(docs, load_bulk=False)
    b.engine_ids = [doc.pk for doc in docs]
    async with MongoUnitOfWork(MEMBERS, transactions=False) as uow:
        added = await uow.repo(Member).add_many([Member(**row) for row in rows])
        await uow.commit()
    b.repository_ids = [entity.id for entity in added]
