"""MongoEngine's thread-local state is task-local; the async context managers too."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from mongoengine import Document, ReferenceField, StringField
from mongoengine.context_managers import no_dereference, no_dereferencing_active_for_class

import persistence  # noqa: F401
from persistence.engine import connect_async, disconnect_async
from persistence.engine.switching import (
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
