"""The embedded server: start, restart with the same storage, fail points, and its gaps.

Gap tests assert MongoDB's real behaviour; on the embedded server they are
``xfail(strict=True)`` (see docs/server-gaps.md), on a real mongod they pass.
"""

from __future__ import annotations

import re
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymongo
import pytest
from pymongo import monitoring
from pymongo.errors import OperationFailure

from eventually import HANG_S
from markers import server_gap
from persistence.testing import (
    EmbeddedServer,
    async_fail_point,
    fail_point,
    server_uri_from_env_or_start,
)


def test_server_answers_as_a_replica_set_primary(sync_client: pymongo.MongoClient[Any]) -> None:
    hello = sync_client.admin.command("hello")
    assert hello["isWritablePrimary"] is True
    assert hello.get("setName")  # a replica set: transactions work


def test_writes_survive_a_restart_on_the_same_storage() -> None:
    with EmbeddedServer() as server:
        with pymongo.MongoClient(server.uri) as client:
            client.keep.items.insert_one({"name": "durable"})
        port, storage = server.port, server.storage_path
        server.restart()
        assert (server.port, server.storage_path) == (port, storage)
        with pymongo.MongoClient(server.uri) as client:
            assert client.keep.items.find_one({}, {"_id": 0}) == {"name": "durable"}
    assert not server.running
    assert not storage.exists()  # our own storage is removed on stop


@pytest.mark.xfail(
    strict=True,
    raises=OperationFailure,  # NoSuchTransaction
    reason="embedded server gap: a committed transaction is forgotten across a restart",
)
def test_a_retried_commit_after_a_restart_answers_ok() -> None:
    """MongoDB remembers a committed transaction: the driver's retry of its commit after
    a restart answers ok.  (A restart needs a server of our own, so this one is always
    the embedded server.)"""
    with tempfile.TemporaryDirectory(prefix="gap-txn-") as storage:
        server = EmbeddedServer(storage_path=storage).start()
        try:
            with pymongo.MongoClient(server.uri) as client:
                with client.start_session() as session:
                    session.start_transaction()
                    client.gaps.txn.insert_one({"_id": 1}, session=session)
                    session.commit_transaction()
                    server.kill()
                    server.start()
                    assert client.gaps.txn.count_documents({}) == 1  # it had landed
                    session.commit_transaction()  # embedded: NoSuchTransaction
        finally:
            server.stop()


def test_auth_after_provisioning_a_user_and_restarting() -> None:
    with EmbeddedServer() as server:
        with pymongo.MongoClient(server.uri) as client:
            client.admin.command("createUser", "app", pwd="secret", roles=["root"])
        server.auth = True
        server.restart()
        with pymongo.MongoClient(server.uri) as anonymous:
            with pytest.raises(OperationFailure) as refused:
                anonymous.app.items.find_one()
            assert refused.value.code == 13  # Unauthorized
        with pymongo.MongoClient(server.uri, username="app", password="secret") as client:
            client.app.items.insert_one({"n": 1})
            assert client.app.items.count_documents({}) == 1


def test_uri_from_env_wins_over_starting_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    assert server_uri_from_env_or_start() == ("mongodb://db.example:27017", None)


def test_fail_command_fails_exactly_once(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.fp_test.items
    collection.drop()
    with fail_point(
        sync_client,
        mode={"times": 1},
        data={"failCommands": ["insert"], "errorCode": 2},
    ):
        with pytest.raises(OperationFailure):
            collection.insert_one({"n": 1})
        collection.insert_one({"n": 2})
    collection.insert_one({"n": 3})  # and off after the block
    assert [d["n"] for d in collection.find().sort("n")] == [2, 3]


async def test_async_fail_point(mongodb_uri: str) -> None:
    client: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(mongodb_uri)
    try:
        collection = client.fp_test.async_items
        await collection.drop()
        async with async_fail_point(
            client, mode={"times": 1}, data={"failCommands": ["insert"], "errorCode": 2}
        ):
            with pytest.raises(OperationFailure):
                await collection.insert_one({"n": 1})
        await collection.insert_one({"n": 2})
        assert await collection.count_documents({}) == 1
    finally:
        await client.close()


def test_block_connection_delays_the_command(
    sync_client: pymongo.MongoClient[Any], mongodb_uri: str
) -> None:
    """Once a blocked ``find`` reached the server, other commands are answered while it
    waits: an order of events, not a duration."""
    name = f"blocked_{uuid.uuid4().hex}"
    sync_client.fp_test[name].insert_one({"n": 1})
    find_sent = threading.Event()

    class FindStarted(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name == "find":
                find_sent.set()

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

        def failed(self, event: monitoring.CommandFailedEvent) -> None: ...

    watched: pymongo.MongoClient[Any] = pymongo.MongoClient(
        mongodb_uri, event_listeners=[FindStarted()]
    )
    pings = 20
    try:
        with fail_point(
            sync_client,
            mode={"times": 1},
            data={"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 3000},
        ), ThreadPoolExecutor(max_workers=1) as pool:
            blocked = pool.submit(watched.fp_test[name].find_one)
            assert find_sent.wait(HANG_S)
            answered = 0
            while not blocked.done() and answered < pings:
                sync_client.admin.command("ping")
                answered += 1
            assert blocked.result()["n"] == 1
    finally:
        watched.close()
    assert answered == pings  # every ping came back before the blocked find did


def test_unanchored_regex_on_an_indexed_field(sync_client: pymongo.MongoClient[Any]) -> None:
    """Listed as a possible gap; it does not reproduce (see docs/server-gaps.md)."""
    collection = sync_client.gaps.regex
    collection.drop()
    collection.create_index("name")
    collection.insert_one({"name": "alice"})
    assert [d["name"] for d in collection.find({"name": {"$regex": "lic"}})] == ["alice"]


@server_gap("no JavaScript engine: $where is refused")
def test_where_clause(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps.where
    collection.drop()
    collection.insert_one({"name": "alice"})
    assert len(list(collection.find({"$where": "this.name == 'alice'"}))) == 1


def test_profiler_records_operations(sync_client: pymongo.MongoClient[Any]) -> None:
    """Listed as a possible gap; it does not reproduce (see docs/server-gaps.md)."""
    db = sync_client[f"profile_{uuid.uuid4().hex[:8]}"]
    db.items.insert_one({"n": 1})
    assert db.command("profile", -1)["was"] == 0
    db.command("profile", 2)
    try:
        db.items.find_one({"n": 1})
        entries = list(db.system.profile.find({"ns": f"{db.name}.items", "op": "query"}))
    finally:
        db.command("profile", 0)
    assert entries and entries[0]["command"]["filter"] == {"n": 1}
    sync_client.drop_database(db.name)


@server_gap("mapReduce answers with no results")
def test_map_reduce(sync_client: pymongo.MongoClient[Any]) -> None:
    db = sync_client.gaps
    db.mr.drop()
    db.mr.insert_many([{"k": "a"}, {"k": "a"}, {"k": "b"}])
    result = db.command(
        "mapReduce",
        "mr",
        map="function() { emit(this.k, 1); }",
        reduce="function(key, values) { return Array.sum(values); }",
        out={"inline": 1},
    )
    assert {r["_id"]: r["value"] for r in result["results"]} == {"a": 2, "b": 1}


@server_gap("text indexes are not supported")
def test_text_index(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps.text
    collection.drop()
    collection.create_index([("body", "text")])
    collection.insert_one({"body": "hello world"})
    assert len(list(collection.find({"$text": {"$search": "hello"}}))) == 1


@server_gap("hashed indexes are not supported")
def test_hashed_index(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps.hashed
    collection.drop()
    assert collection.create_index([("k", "hashed")]) == "k_hashed"


@server_gap("a BSON regex value on an indexed field matches nothing")
def test_bson_regex_on_an_indexed_field(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps[f"regex_{uuid.uuid4().hex[:8]}"]
    collection.create_index("email")
    collection.insert_one({"email": "kim@example.com"})
    assert collection.count_documents({"email": {"$regex": "^k"}}) == 1
    assert collection.count_documents({"email": re.compile("^k")}) == 1


ORDERS = [
    {"_id": 1, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]},
    {"_id": 2, "items": [{"sku": "a", "qty": 5}]},
    {"_id": 3, "items": []},
    {"_id": 4},
]


@server_gap('distinct("items.sku") over an array of embedded documents answers []')
def test_distinct_of_a_path_inside_an_array(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps[f"distinct_{uuid.uuid4().hex[:8]}"]
    collection.insert_many(ORDERS)
    assert collection.count_documents({"items.sku": "a"}) == 2  # queries see the path
    assert sorted(collection.distinct("items.sku")) == ["a", "b"]


@server_gap('"$items.sku" in an aggregation expression is missing instead of an array')
def test_group_on_a_path_inside_an_array(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps[f"group_{uuid.uuid4().hex[:8]}"]
    collection.insert_many(ORDERS)
    rows = collection.aggregate([{"$group": {"_id": "$items.sku", "n": {"$sum": 1}}}])
    # MongoDB groups by the array of the elements' values (null for a missing array)
    groups = sorted((repr(row["_id"]), row["n"]) for row in rows)
    assert groups == [("None", 1), ("['a', 'b']", 1), ("['a']", 1), ("[]", 1)]


def test_group_after_unwinding_the_array(sync_client: pymongo.MongoClient[Any]) -> None:
    """The route the aggregation specs take: unwind first, then group by the element."""
    collection = sync_client.gaps[f"unwind_{uuid.uuid4().hex[:8]}"]
    collection.insert_many(ORDERS)
    rows = collection.aggregate(
        [
            {"$unwind": "$items"},
            {"$group": {"_id": "$items.sku", "qty": {"$sum": "$items.qty"}}},
            {"$sort": {"_id": 1}},
        ]
    )
    assert [(row["_id"], row["qty"]) for row in rows] == [("a", 7), ("b", 1)]


@server_gap("$sum and $avg of doubles round after every addition")
def test_sum_of_doubles_is_compensated(sync_client: pymongo.MongoClient[Any]) -> None:
    collection = sync_client.gaps[f"sum_{uuid.uuid4().hex[:8]}"]
    collection.insert_many([{"v": 0.1}, {"v": 0.2}, {"v": 0.3}])
    (row,) = collection.aggregate(
        [{"$group": {"_id": None, "sum": {"$sum": "$v"}, "avg": {"$avg": "$v"}}}]
    )
    # MongoDB adds doubles in double-double precision and rounds once at the end
    assert (row["sum"], row["avg"]) == (0.6, 0.6 / 3)


def test_a_starved_server_gets_longer_readiness_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server alive but slow to answer (a busy CI machine) is not given up on after a
    few short probes: each probe waits longer than the one before, up to a ceiling."""
    from persistence.testing import embedded_server

    real_client = pymongo.MongoClient
    probes: list[int] = []

    def answers_late(uri: str, **options: Any) -> pymongo.MongoClient[Any]:
        probes.append(options["serverSelectionTimeoutMS"])
        if len(probes) < 6:  # as if each probe ran out before the answer came
            raise pymongo.errors.ServerSelectionTimeoutError("no answer yet")
        return real_client(uri, **options)

    monkeypatch.setattr(embedded_server.pymongo, "MongoClient", answers_late)
    server = EmbeddedServer(durable=False).start()
    monkeypatch.undo()
    try:
        with pymongo.MongoClient(server.uri) as client:
            assert client.admin.command("ping")["ok"] == 1
        assert probes == [500, 1000, 2000, 4000, 8000, 8000]
        assert server.start_timeout >= HANG_S  # a hang guard, not a speed limit
    finally:
        server.stop()
