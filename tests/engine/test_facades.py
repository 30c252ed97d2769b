"""The blocking facades cover PyMongo's whole async API and behave like sync PyMongo."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from persistence.engine import async_run_in_transaction
from persistence.engine.bridge import BridgeError, greenlet_spawn
from persistence.engine.connection import get_facade_db
from persistence.engine.facades import (
    ClientFacade,
    CollectionFacade,
    CommandCursorFacade,
    CursorFacade,
    DatabaseFacade,
    SessionFacade,
)

PAIRS = [
    (AsyncMongoClient, ClientFacade),
    (AsyncDatabase, DatabaseFacade),
    (AsyncCollection, CollectionFacade),
    (AsyncCursor, CursorFacade),
    (AsyncCommandCursor, CommandCursorFacade),
    (AsyncClientSession, SessionFacade),
]


def _async_members(cls: type) -> list[str]:
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property):
            if attr.fget is not None and inspect.iscoroutinefunction(attr.fget):
                names.append(name)
        elif inspect.iscoroutinefunction(getattr(attr, "__func__", attr)):
            names.append(name)
    return names


@pytest.mark.parametrize(("async_cls", "facade_cls"), PAIRS, ids=lambda c: c.__name__)
def test_every_coroutine_method_has_a_blocking_twin(async_cls: type, facade_cls: type) -> None:
    members = _async_members(async_cls)
    assert members, f"no coroutine methods found on {async_cls.__name__}"
    missing = []
    for name in members:
        twin = inspect.getattr_static(facade_cls, name, None)
        if twin is None:
            missing.append(name)
        elif isinstance(twin, property):
            if inspect.iscoroutinefunction(twin.fget):
                missing.append(name)
        elif inspect.iscoroutinefunction(twin) or not callable(twin):
            missing.append(name)
    assert missing == [], f"{facade_cls.__name__} lacks blocking twins for {missing}"


async def test_cursor_facade_iterates_indexes_and_slices_like_sync_pymongo(async_db: Any) -> None:
    def run() -> dict[str, Any]:
        db = get_facade_db("default")
        collection = db["numbers"]
        collection.insert_many([{"n": i} for i in range(7)])
        out: dict[str, Any] = {}
        out["all"] = [d["n"] for d in collection.find().sort("n").batch_size(2)]
        out["third"] = collection.find().sort("n")[3]["n"]
        out["slice"] = [d["n"] for d in collection.find().sort("n")[2:5]]
        try:
            collection.find()[-1]
        except IndexError:
            out["negative"] = "IndexError"
        try:
            collection.find()[50]
        except IndexError:
            out["beyond"] = "IndexError"
        out["with_options"] = type(collection.with_options()).__name__
        out["is_primary"] = db.client.is_primary
        cursor = collection.aggregate([{"$group": {"_id": None, "total": {"$sum": "$n"}}}])
        out["aggregate"] = (type(cursor).__name__, [d["total"] for d in cursor])
        out["count"] = collection.count_documents({"n": {"$gte": 3}})
        out["indexes"] = [i["name"] for i in collection.list_indexes()]
        return out

    out = await greenlet_spawn(run)
    assert out == {
        "all": list(range(7)),
        "third": 3,
        "slice": [2, 3, 4],
        "negative": "IndexError",
        "beyond": "IndexError",
        "with_options": "CollectionFacade",
        "is_primary": True,
        "aggregate": ("CommandCursorFacade", [21]),
        "count": 4,
        "indexes": ["_id_"],
    }
    assert await async_db["numbers"].count_documents({}) == 7


async def test_facade_io_outside_the_bridge_raises(async_db: Any) -> None:
    collection = get_facade_db("default")["numbers"]
    with pytest.raises(BridgeError):
        collection.insert_one({"n": 1})
    assert await async_db["numbers"].count_documents({}) == 0


async def test_facade_calls_join_the_task_transaction(async_db: Any) -> None:
    def insert(n: int) -> None:
        get_facade_db("default")["tx"].insert_one({"n": n})

    await async_db.create_collection("tx")
    with pytest.raises(RuntimeError, match="abort"):
        async with async_run_in_transaction():
            await greenlet_spawn(insert, 1)
            raise RuntimeError("abort")
    async with async_run_in_transaction():
        await greenlet_spawn(insert, 2)
    assert [d["n"] async for d in async_db["tx"].find()] == [2]


async def test_mongomock_cursor_facade(mongomock_db: Any) -> None:
    def run() -> tuple[list[int], int, list[int]]:
        collection = get_facade_db("default")["numbers"]
        collection.insert_many([{"n": i} for i in range(5)])
        cursor = collection.find().sort("n")
        return (
            [d["n"] for d in cursor],
            collection.find().sort("n")[1]["n"],
            [d["n"] for d in collection.find().sort("n")[1:3]],
        )

    assert await greenlet_spawn(run) == ([0, 1, 2, 3, 4], 1, [1, 2])
