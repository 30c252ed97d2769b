"""MongoEngine's thread-local state is task-local; the async context managers too."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Any

from mongoengine import Document, ReferenceField, StringField
from mongoengine.context_managers import no_dereference, no_dereferencing_active_for_class

import persistence.engine  # noqa: F401
from markers import reads_twice_when_checked
from persistence.engine import connect_async, disconnect_async
from persistence.engine.context_managers import (
    async_no_dereference,
    async_switch_collection,
    async_switch_db,
)


class Owner(Document):
    name = StringField()


class Pet(Document):
    name = StringField()
    owner = ReferenceField(Owner)


def _state() -> tuple[bool, bool]:
    return no_dereferencing_active_for_class(Pet), Pet._fields["owner"]._auto_dereference


async def test_no_dereference_affects_only_the_task_inside() -> None:
    entered, observed, leave = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: dict[str, tuple[bool, bool]] = {}

    async def inside() -> None:
        async with async_no_dereference(Pet):
            entered.set()
            seen["inside"] = _state()
            await leave.wait()
            seen["inside, later"] = _state()
        seen["inside, after"] = _state()

    async def outside() -> None:
        await entered.wait()
        seen["outside"] = _state()
        observed.set()
        leave.set()

    await asyncio.gather(inside(), outside())
    assert seen == {
        "inside": (True, False),
        "inside, later": (True, False),
        "outside": (False, True),
        "inside, after": (False, True),
    }


def test_threads_keep_thread_behaviour() -> None:
    entered, done = threading.Event(), threading.Event()
    seen: dict[str, tuple[bool, bool]] = {}

    def inside() -> None:
        with no_dereference(Pet):
            entered.set()
            seen["inside"] = _state()
            done.wait(5)

    def outside() -> None:
        entered.wait(5)
        seen["outside"] = _state()
        done.set()

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"inside": (True, False), "outside": (False, True)}


async def test_switch_db_and_collection_affect_only_their_task(
    async_db: Any, mongodb_uri: str
) -> None:
    other_name = f"other_{uuid.uuid4().hex[:8]}"
    other = await connect_async(other_name, alias="other", host=mongodb_uri)
    try:
        switched, written = asyncio.Event(), asyncio.Event()

        async def in_other_db() -> None:
            async with async_switch_db(Owner, "other") as OtherOwner:
                switched.set()
                await written.wait()
                await OtherOwner(name="in other").async_save()

        async def in_archive_collection() -> None:
            async with async_switch_collection(Owner, "archive") as Archived:
                await switched.wait()
                await Archived(name="archived").async_save()

        async def plain() -> None:
            await switched.wait()
            await Owner(name="in default").async_save()
            written.set()

        await asyncio.gather(in_other_db(), in_archive_collection(), plain())
        assert [d["name"] async for d in async_db["owner"].find()] == ["in default"]
        assert [d["name"] async for d in async_db["archive"].find()] == ["archived"]
        assert [d["name"] async for d in other[other_name]["owner"].find()] == ["in other"]
    finally:
        await other.drop_database(other_name)
        await disconnect_async("other")


class Animal(Document):
    name = StringField()
    meta = {"allow_inheritance": True}


class Dog(Animal):
    pass


async def test_no_sub_classes_affects_only_the_task_inside(async_db: Any) -> None:
    from mongoengine import async_no_sub_classes

    await Animal(name="generic").async_save()
    await Dog(name="rex").async_save()
    inside, counted = asyncio.Event(), asyncio.Event()
    seen: dict[str, list[str]] = {}

    async def within() -> None:
        async with async_no_sub_classes(Animal) as OnlyAnimal:
            inside.set()
            await counted.wait()
            seen["inside"] = sorted([a.name async for a in OnlyAnimal.objects])

    async def without() -> None:
        await inside.wait()
        seen["outside"] = sorted([a.name async for a in Animal.objects])
        counted.set()

    await asyncio.gather(within(), without())
    assert seen == {"inside": ["generic"], "outside": ["generic", "rex"]}
    assert sorted([a.name async for a in Animal.objects]) == ["generic", "rex"]


async def test_query_counter_counts_only_its_own_task(async_db: Any) -> None:
    from mongoengine import async_query_counter

    await Owner(name="a").async_save()
    started, done = asyncio.Event(), asyncio.Event()

    async def noisy() -> None:
        await started.wait()
        for _ in range(5):
            await Owner.objects.async_count()
        done.set()

    async def counted() -> int:
        async with async_query_counter() as q:
            assert q == 0
            started.set()
            await Owner.objects.async_first()  # 1 find
            await Owner(name="b").async_save()  # 1 insert
            await done.wait()
            assert [o.name async for o in Owner.objects.order_by("name")] == ["a", "b"]
            return int(q)

    _, total = await asyncio.gather(noisy(), counted())
    assert total == 3  # the other task's five counts are not in it
    async with async_query_counter() as q:
        await Owner.objects.async_count()
        assert q == 1 and q < 2 and q >= 1 and repr(q) == "1"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@reads_twice_when_checked()
async def test_query_counter_leaves_pymongo_command_logging_as_it_was(async_db: Any) -> None:
    from mongoengine import async_query_counter

    logger = logging.getLogger("pymongo.command")
    seen = _Records()
    logger.addHandler(seen)
    level = logger.level
    try:
        await Owner.objects.async_count()  # the class is prepared
        async with async_query_counter() as outer:
            async with async_query_counter() as inner:  # nested: one log listener
                await Owner.objects.async_count()
            await Owner(name="c").async_save()
        assert (outer, inner) == (2, 1)
        assert logger.level == level and logger.filters == []
        assert seen.records == []  # the counters' records were not emitted to handlers
        await Owner.objects.async_count()
        assert seen.records == []
        logger.setLevel(logging.DEBUG)  # the application logs commands itself
        async with async_query_counter() as q:
            await Owner.objects.async_count()
        assert q == 1
        assert logger.level == logging.DEBUG
        started = [r for r in seen.records if "Command started" in r.getMessage()]
        assert len(started) == 1 and '"commandName": "count"' in started[0].getMessage()
    finally:
        logger.removeHandler(seen)
        logger.setLevel(level)


async def test_write_and_read_concern_managers(async_db: Any) -> None:
    from mongoengine import async_set_read_write_concern, async_set_write_concern

    async with async_set_write_concern(Owner, {"w": 1, "j": True}) as collection:
        assert collection.write_concern.document == {"w": 1, "j": True}
        await collection.insert_one({"name": "acked"})
    async with async_set_read_write_concern(
        Owner, {"w": "majority"}, {"level": "majority"}
    ) as collection:
        assert collection.write_concern.document == {"w": "majority"}
        assert collection.read_concern.document == {"level": "majority"}
        assert [d["name"] async for d in collection.find()] == ["acked"]
    plain = async_db["owner"]
    assert plain.write_concern.document == {}  # nothing changed outside
