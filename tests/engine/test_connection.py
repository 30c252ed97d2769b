"""connect_async and the async alias registry."""

from __future__ import annotations

import datetime
import uuid
import warnings
import zoneinfo
from typing import Any

import mongomock
import pytest
from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from mongoengine import DateTimeField, Document, StringField, UUIDField, connect, disconnect
from mongoengine.connection import ConnectionFailure, get_db
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ServerSelectionTimeoutError

import persistence.engine  # noqa: F401
from persistence.engine import (
    DEFAULT_UUID_REPRESENTATION,
    TransactionsNotSupportedError,
    async_run_in_transaction,
    connect_async,
    disconnect_all_async,
    disconnect_async,
    get_async_db,
    is_async_connection,
)


class Note(Document):
    text = StringField()
    meta = {"db_alias": "conn_test"}


class Token(Document):
    value = UUIDField(binary=True)
    meta = {"db_alias": "conn_test"}


def _name() -> str:
    return f"c_{uuid.uuid4().hex[:10]}"


def _with_option(uri: str, option: str) -> str:
    return f"{uri}{'&' if '?' in uri else '/?' if uri.count('/') == 2 else '?'}{option}"


def test_names_are_exported_from_mongoengine() -> None:
    from mongoengine import (
        async_run_in_transaction as exported_tx,
    )
    from mongoengine import (
        connect_async as exported_connect,
    )
    from mongoengine import (
        disconnect_async as exported_disconnect,
    )
    from mongoengine import (
        get_async_db as exported_db,
    )
    from mongoengine import (
        is_async_connection as exported_is_async,
    )

    assert exported_connect is connect_async
    assert exported_disconnect is disconnect_async
    assert exported_tx is async_run_in_transaction
    assert exported_db is get_async_db
    assert exported_is_async is is_async_connection


async def test_connect_async_registers_an_async_client(mongodb_uri: str) -> None:
    name = _name()
    client = await connect_async(name, alias="conn_test", host=mongodb_uri)
    try:
        assert isinstance(client, AsyncMongoClient)
        assert is_async_connection("conn_test") and not is_async_connection("nope")
        db = get_async_db("conn_test")
        assert isinstance(db, AsyncDatabase) and db.name == name
        await Note(text="hello").async_save()
        assert [d["text"] for d in await client[name]["note"].find().to_list()] == ["hello"]
    finally:
        await client.drop_database(name)
        await disconnect_async("conn_test")
    assert not is_async_connection("conn_test")


async def test_connect_async_does_no_io_and_first_use_fails_clearly() -> None:
    # Nothing listens on port 1: connecting succeeds because it sends nothing; the
    # first operation fails after the configured server selection timeout.
    await connect_async(
        "unreachable",
        alias="conn_test",
        host="mongodb://127.0.0.1:1/",
        serverSelectionTimeoutMS=300,
    )
    try:
        with pytest.raises(ServerSelectionTimeoutError, match=r"Timeout: 0\.3s"):
            await Note(text="x").async_save()
    finally:
        await disconnect_async("conn_test")


@pytest.mark.parametrize(
    ("how", "stored_subtype"),
    [("not given", 4), ("argument", 3), ("URI option", 3)],
)
async def test_uuid_representation_defaults_to_standard_and_an_explicit_one_wins(
    mongodb_uri: str, how: str, stored_subtype: int
) -> None:
    name = _name()
    host = mongodb_uri
    options: dict[str, str] = {}
    if how == "argument":
        options["uuidRepresentation"] = "pythonLegacy"
    elif how == "URI option":
        host = _with_option(mongodb_uri, "uuidRepresentation=pythonLegacy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MongoEngine's "No uuidRepresentation" included
        client = await connect_async(name, alias="conn_test", host=host, **options)
    try:
        expected = {4: UuidRepresentation.STANDARD, 3: UuidRepresentation.PYTHON_LEGACY}
        assert client.codec_options.uuid_representation == expected[stored_subtype]
        value = uuid.uuid4()
        await Token(value=value).async_save()
        assert (await Token.objects.async_get()).value == value
        raw = client[name].get_collection(
            "token", codec_options=CodecOptions(uuid_representation=UuidRepresentation.UNSPECIFIED)
        )
        stored = (await raw.find_one())["value"]
        assert isinstance(stored, Binary) and stored.subtype == stored_subtype
    finally:
        await client.drop_database(name)
        await disconnect_async("conn_test")


def test_the_default_uuid_representation_is_standard() -> None:
    assert DEFAULT_UUID_REPRESENTATION == "standard"


async def test_same_alias_with_other_settings_is_refused(mongodb_uri: str) -> None:
    await connect_async("one", alias="conn_test", host=mongodb_uri)
    try:
        again = await connect_async("one", alias="conn_test", host=mongodb_uri)
        assert again is get_async_db("conn_test").client
        with pytest.raises(ConnectionFailure, match="different connection"):
            await connect_async("two", alias="conn_test", host=mongodb_uri)
    finally:
        await disconnect_async("conn_test")


async def test_async_alias_never_shares_a_client_with_a_sync_alias(mongodb_uri: str) -> None:
    sync_client = connect(
        "shared", alias="conn_sync", host=mongodb_uri, uuidRepresentation="standard"
    )
    try:
        async_client = await connect_async("shared", alias="conn_async", host=mongodb_uri)
        twin = await connect_async("shared", alias="conn_async2", host=mongodb_uri)
        try:
            assert async_client is not sync_client
            assert twin is async_client  # identical async settings share, as MongoEngine does
            with pytest.raises(ConnectionFailure, match="async connection"):
                connect(
                    "shared", alias="conn_async", host=mongodb_uri, uuidRepresentation="standard"
                )
            with pytest.raises(ConnectionFailure, match="sync connection"):
                await connect_async("shared", alias="conn_sync", host=mongodb_uri)
            with pytest.raises(RuntimeError, match="disconnect_async"):
                disconnect("conn_async")
        finally:
            await disconnect_all_async()
        assert not is_async_connection("conn_async2")
    finally:
        disconnect("conn_sync")


async def test_get_db_returns_the_async_database_for_user_code(mongodb_uri: str) -> None:
    name = _name()
    await connect_async(name, host=mongodb_uri)
    try:
        db = get_db()
        assert isinstance(db, AsyncDatabase)
        collection = db[Note._get_collection_name()]
        await collection.insert_one({"text": "t", "active": True})
        explanation = await collection.find({"active": True}).explain()
        assert "queryPlanner" in explanation or "ok" in explanation
    finally:
        await get_db().client.drop_database(name)
        await disconnect_async()


async def test_mongomock_alias_runs_the_async_api_without_transactions() -> None:
    await connect_async("mock", alias="conn_test", mongo_client_class=mongomock.MongoClient)
    try:
        await Note(text="in memory").async_save()
        assert [n.text async for n in Note.objects] == ["in memory"]
        with pytest.raises(TransactionsNotSupportedError):
            async with async_run_in_transaction("conn_test"):
                pass
    finally:
        await disconnect_async("conn_test")


async def test_unknown_alias_is_a_connection_failure() -> None:
    class Orphan(Document):
        meta = {"db_alias": "never_connected"}

    with pytest.raises(ConnectionFailure):
        get_async_db("never_connected")
    with pytest.raises((ConnectionFailure, RuntimeError)):
        await Orphan().async_save()


async def test_disconnect_all_async_closes_every_async_client(mongodb_uri: str) -> None:
    from pymongo.errors import InvalidOperation

    from persistence.engine.aliases import async_aliases

    sync_client = connect("kept", alias="all_sync", host=mongodb_uri, uuidRepresentation="standard")
    try:
        first = await connect_async("all_one", alias="all_one", host=mongodb_uri)
        shared = await connect_async("all_two", alias="all_two", host=mongodb_uri)
        other = await connect_async("all_three", alias="conn_test", host=mongodb_uri, appname="x")
        await connect_async("all_mock", alias="all_mock", mongo_client_class=mongomock.MongoClient)
        assert shared is first and other is not first
        await Note(text="n").async_save()  # alias conn_test
        await first["all_one"].command("ping")
        await disconnect_all_async()
        assert not async_aliases() & {"all_one", "all_two", "conn_test", "all_mock"}
        for client in (first, other):
            with pytest.raises(InvalidOperation, match="after close"):
                await client["all_one"].command("ping")
        assert sync_client["kept"].command("ping")["ok"] == 1  # sync aliases stay
        assert not is_async_connection("all_sync")
        again = await connect_async("all_again", alias="conn_test", host=mongodb_uri)
        assert again is not other  # the class's collection on the closed client is forgotten:
        assert await Note.objects.async_count() == 0
        await Note(text="again").async_save()
        assert await again["all_again"]["note"].count_documents({}) == 1
        await again.drop_database("all_three")
        await again.drop_database("all_again")
        await disconnect_async("conn_test")
    finally:
        disconnect("all_sync")


def test_disconnect_all_async_closes_the_rest_when_a_client_cannot_be_closed(
    mongodb_uri: str,
) -> None:
    """PyMongo refuses to close a client from another event loop than its own: the other
    clients are still closed, every alias is forgotten, and the refusal is raised."""
    import asyncio

    from pymongo.errors import InvalidOperation

    from persistence.engine.aliases import async_aliases

    elsewhere = asyncio.new_event_loop()
    foreign = []

    async def connect_elsewhere() -> None:
        for name in ("far_one", "far_two"):
            client = await connect_async(name, alias=name, host=mongodb_uri, appname=name)
            await client[name].command("ping")
            foreign.append(client)

    async def disconnect_here() -> None:
        local = await connect_async("near", alias="near", host=mongodb_uri, appname="near")
        await local["near"].command("ping")
        with pytest.raises(RuntimeError, match="event loop"):
            await disconnect_all_async()
        assert not async_aliases() & {"far_one", "far_two", "near"}
        with pytest.raises(InvalidOperation, match="after close"):
            await local["near"].command("ping")

    try:
        elsewhere.run_until_complete(connect_elsewhere())
        asyncio.run(disconnect_here())
    finally:
        for client in foreign:  # closed where they can be
            elsewhere.run_until_complete(client.close())
        elsewhere.close()


class Meeting(Document):
    at = DateTimeField()
    meta = {"db_alias": "conn_test"}


@pytest.mark.parametrize("backend", ["server", "mongomock"])
async def test_a_tz_aware_alias_reads_in_its_zone_on_both_backends(
    backend: str, mongodb_uri: str
) -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    where: dict[str, Any] = {"host": mongodb_uri}
    if backend == "mongomock":
        where = {"mongo_client_class": mongomock.MongoClient}
    name = _name()
    client = await connect_async(name, alias="conn_test", tz_aware=True, tzinfo=paris, **where)
    try:
        await Meeting(at=datetime.datetime(2024, 1, 15, 11, 0, 0, 250999)).async_save()  # UTC
        noon = datetime.datetime(2024, 1, 15, 12, 0, 0, 250000, tzinfo=paris)
        reads = [
            (await Meeting.objects.async_first()).at,
            *[m.at async for m in Meeting.objects],
            (await Meeting.objects.as_pymongo().async_first())["at"],
            *await Meeting.objects.async_distinct("at"),
            *[row["at"] async for row in Meeting.objects.async_aggregate([{"$match": {}}])],
            (await get_async_db("conn_test")["meeting"].find_one())["at"],
        ]
        for value in reads:
            assert value == noon and value.utcoffset() == datetime.timedelta(hours=1), value
        assert get_async_db("conn_test").codec_options.tzinfo == paris
    finally:
        if backend == "server":
            await client.drop_database(name)
        await disconnect_async("conn_test")


async def test_a_zone_without_tz_aware_is_refused_on_both_backends(mongodb_uri: str) -> None:
    for where in ({"host": mongodb_uri}, {"mongo_client_class": mongomock.MongoClient}):
        with pytest.raises(ConnectionFailure, match="tz_aware"):
            await connect_async(
                _name(), alias="conn_test", tzinfo=datetime.timezone.utc, **where
            )
        await disconnect_async("conn_test")
