"""The repository layer against the engine: the same work, written both ways.

A service team declares an entity and its Document and uses the repository; the same
team could call the engine on the Document directly.  Each workload does one piece of
work both ways (``engine`` and ``repository``) on its own collection of the same shape
and data, so the ratio is the repository layer's own cost: mapping to and from
entities, spec compilation, the unit of work's bookkeeping.

The two variants run in two tasks that take turns every few operations (:func:`measure`),
each in its own block (a transaction, or a unit of work), so a change in the machine's
load hits both alike; each task's turns are timed with ``time.process_time``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import attrs
from bson import ObjectId
from mongoengine import Document, IntField, ListField, StringField

from persistence.engine import async_run_in_transaction
from persistence.fields import VersionField
from persistence.ids import new_id
from persistence.mongo import MongoUnitOfWork
from persistence.ports import QueryRepository
from persistence.registry import Registry
from persistence.specs import Changes, F, Order, Page

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
    inside: bool = False  # the mode being measured: inside a transaction or not


class LayerWorkload:
    """``calls`` operations per timed run in each variant; ``per_call`` units each.

    Inside a transaction, the engine's operations run in one ``async_run_in_transaction``
    block and the repository's in one unit of work; outside, the engine runs bare and
    the repository in a unit of work without transactions.  Opening and committing those
    blocks is not timed (the "block" workload times blocks of its own).
    """

    name: ClassVar[str]
    calls: ClassVar[int] = 300
    per_call: ClassVar[int] = 1
    unit: ClassVar[str] = "operation"
    own_blocks: ClassVar[bool] = False  # the operations open their own blocks

    async def reset(self, b: Bench) -> None:
        """Untimed, before each timed run."""
        b.round += 1

    async def engine(self, b: Bench, i: int) -> None:
        raise NotImplementedError

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        raise NotImplementedError


@asynccontextmanager
async def _engine_block(inside: bool) -> AsyncIterator[None]:
    if inside:
        async with async_run_in_transaction():
            yield
    else:
        yield


@asynccontextmanager
async def _repository_block(inside: bool) -> AsyncIterator[QueryRepository[Member]]:
    async with MongoUnitOfWork(MEMBERS, transactions=inside) as uow:
        yield uow.repo(Member)
        await uow.commit()


TURN = 10  # operations per turn


async def measure(workload: LayerWorkload, b: Bench, inside: bool, first: str) -> dict[str, float]:
    """Microseconds of client CPU per unit of each variant: the two run in two tasks
    taking turns every :data:`TURN` operations, ``first`` starting."""
    cpu = {"engine": 0.0, "repository": 0.0}
    turns = {"engine": asyncio.Event(), "repository": asyncio.Event()}
    other = {"engine": "repository", "repository": "engine"}

    async def run(variant: str) -> None:
        if variant == "engine" or workload.own_blocks:
            block: Any = _engine_block(inside and not workload.own_blocks)
        else:
            block = _repository_block(inside)
        async with block as members:
            for start in range(0, workload.calls, TURN):
                await turns[variant].wait()
                turns[variant].clear()
                began = time.process_time()
                for i in range(start, min(start + TURN, workload.calls)):
                    if variant == "engine":
                        await workload.engine(b, i)
                    else:
                        await workload.repository(b, members, i)
                cpu[variant] += time.process_time() - began
                turns[other[variant]].set()
        turns[other[variant]].set()  # the other may still have turns to take

    b.inside = inside
    gc.collect()
    turns[first].set()
    await asyncio.gather(run("engine"), run("repository"))
    units = workload.calls * workload.per_call
    return {variant: seconds / units * 1e6 for variant, seconds in cpu.items()}


class GetById(LayerWorkload):
    name = "get by id"

    async def engine(self, b: Bench, i: int) -> None:
        await EngineMember.objects.async_get(pk=b.engine_ids[i])

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.get(b.repository_ids[i])


class FirstByField(LayerWorkload):
    name = "first by field"

    async def engine(self, b: Bench, i: int) -> None:
        await EngineMember.objects(name=f"p{i}").async_first()

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.first(F("name") == f"p{i}")


class Add(LayerWorkload):
    name = "add"

    async def engine(self, b: Bench, i: int) -> None:
        await EngineMember(**member_fields(i, f"e{b.round}-", -1)).async_save()

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.add(Member(**member_fields(i, f"r{b.round}-", -1)))


class Save(LayerWorkload):
    """Change one field of a loaded aggregate and save it under its version."""

    name = "save"

    async def reset(self, b: Bench) -> None:
        await super().reset(b)
        self.documents = await EngineMember.objects(pk__in=b.engine_ids).async_to_list()
        async with MongoUnitOfWork(MEMBERS).reading() as uow:
            self.entities = await uow.repo(Member).get_many(b.repository_ids)

    async def engine(self, b: Bench, i: int) -> None:
        document = self.documents[i]
        version = document.version
        document.score += 1
        document.version = version + 1
        await document.async_save(save_condition={"version": version})

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        entity = self.entities[i]
        entity.score += 1
        await members.save(entity)


class AddMany(LayerWorkload):
    """Validated documents inserted in one round trip per call (``insert`` does not
    validate, so the engine variant validates first, as ``add_many`` must)."""

    name = "add_many (500 per call)"
    calls = 4
    per_call = 500
    unit = "document"

    async def engine(self, b: Bench, i: int) -> None:
        tag = f"e{b.round}-{i}-"
        docs = [EngineMember(**member_fields(n, tag, -1)) for n in range(self.per_call)]
        for doc in docs:
            doc.validate()
        await EngineMember.objects.async_insert(docs, load_bulk=False)

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        tag = f"r{b.round}-{i}-"
        await members.add_many([Member(**member_fields(n, tag, -1)) for n in range(self.per_call)])


class FindPage(LayerWorkload):
    name = f"find a page ({PAGE} by age)"
    calls = 100

    async def engine(self, b: Bench, i: int) -> None:
        await EngineMember.objects(age__gte=i).order_by("age", "id").limit(PAGE).async_to_list()

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.find(F("age") >= i, order=Order.by("age"), page=Page(limit=PAGE))


class UpdateWhere(LayerWorkload):
    name = "update_where (10 matches)"
    calls = 100

    async def engine(self, b: Bench, i: int) -> None:
        query = EngineMember.objects(age__gte=i, age__lt=i + 10)
        await query.async_update(inc__score=1, inc__version=1)

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.update_where((F("age") >= i) & (F("age") < i + 10), Changes().inc("score"))


class Count(LayerWorkload):
    name = "count"

    async def engine(self, b: Bench, i: int) -> None:
        await EngineMember.objects(age__gte=COUNT_AGE).async_count()

    async def repository(self, b: Bench, members: QueryRepository[Member], i: int) -> None:
        await members.count(F("age") >= COUNT_AGE)


class Block(LayerWorkload):
    """Open a block, get one aggregate, commit: the unit of work's own cost per block
    (inside: a transaction each; outside: the engine's bare get against a unit of work
    without transactions)."""

    name = "block: open, get one, commit"
    own_blocks = True

    async def engine(self, b: Bench, i: int) -> None:
        async with _engine_block(b.inside):
            await EngineMember.objects.async_get(pk=b.engine_ids[i])

    async def repository(self, b: Bench, members: Any, i: int) -> None:
        async with MongoUnitOfWork(MEMBERS, transactions=b.inside) as uow:
            await uow.repo(Member).get(b.repository_ids[i])
            await uow.commit()


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
