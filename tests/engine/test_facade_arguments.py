"""Facades are accepted wherever PyMongo takes a client, database, collection or session."""

from __future__ import annotations

from typing import Any

from mongoengine.connection import get_connection, get_db

import persistence.engine  # noqa: F401
from persistence.engine import run_sync
from persistence.engine.facades import ClientFacade, DatabaseFacade, SessionFacade


async def test_drop_database_takes_a_database_facade(async_db: Any) -> None:
    await async_db["things"].insert_one({"n": 1})
    name = async_db.name

    def drop() -> tuple[Any, Any]:
        client, db = get_connection(), get_db()
        assert isinstance(client, ClientFacade) and isinstance(db, DatabaseFacade)
        return client.drop_database(db), client.list_database_names()

    _, names = await run_sync(drop)
    assert name not in names
    assert name not in await async_db.client.list_database_names()


async def test_drop_collection_takes_a_collection_facade(async_db: Any) -> None:
    await async_db["keep"].insert_one({"n": 1})
    await async_db["gone"].insert_one({"n": 1})

    def drop() -> None:
        db = get_db()
        db.drop_collection(db["gone"])
        db["keep"].rename("kept")

    await run_sync(drop)
    assert sorted(await async_db.list_collection_names()) == ["kept"]


async def test_session_facades_as_session_arguments(async_db: Any) -> None:
    def write_in_session() -> list[int]:
        client, db = get_connection(), get_db()
        with client.start_session() as session:
            assert isinstance(session, SessionFacade)
            db["s"].insert_one({"n": 1}, session=session)
            db["s"].update_one({"n": 1}, {"$inc": {"n": 1}}, session=session)
            return [d["n"] for d in db["s"].find({}, session=session)]

    assert await run_sync(write_in_session) == [2]
    assert [d["n"] async for d in async_db["s"].find()] == [2]
