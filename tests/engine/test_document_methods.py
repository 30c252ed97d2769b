"""Document methods: the async twins behave as the sync methods do, read back from the DB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mongoengine import (
    CASCADE,
    DENY,
    NULLIFY,
    PULL,
    Document,
    IntField,
    ListField,
    NotUniqueError,
    OperationError,
    ReferenceField,
    SaveConditionError,
    StringField,
    ValidationError,
    signals,
)
from mongoengine.errors import DoesNotExist, MultipleObjectsReturned
from pymongo import monitoring

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, disconnect_async


class Person(Document):
    name = StringField(required=True, max_length=20)
    email = StringField(unique=True, sparse=True)
    age = IntField(min_value=0)
    meta = {"indexes": ["age"]}


class SyncPerson(Document):
    name = StringField(required=True, max_length=20)
    email = StringField(unique=True, sparse=True)
    age = IntField(min_value=0)
    meta = {"indexes": ["age"], "db_alias": "sync", "collection": "person"}


class Team(Document):
    name = StringField()


class Player(Document):
    name = StringField()
    team = ReferenceField(Team, reverse_delete_rule=CASCADE)


class Fan(Document):
    name = StringField()
    team = ReferenceField(Team, reverse_delete_rule=NULLIFY)
    teams = ListField(ReferenceField(Team, reverse_delete_rule=PULL))


class Stadium(Document):
    name = StringField()
    team = ReferenceField(Team, reverse_delete_rule=DENY)


class Recorder(monitoring.CommandListener):
    """Records the commands sent by one client."""

    def __init__(self) -> None:
        self.events: list[monitoring.CommandStartedEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.events.append(event)

    def succeeded(self, event: Any) -> None: ...

    def failed(self, event: Any) -> None: ...

    def names(self) -> list[str]:
        return [e.command_name for e in self.events]


@pytest.fixture
async def recorded_db(mongodb_uri: str, db_name: str) -> AsyncIterator[tuple[Any, Recorder]]:
    """Alias "default" on a fresh database, with a command recorder on its client."""
    recorder = Recorder()
    client = await connect_async(db_name, host=mongodb_uri, event_listeners=[recorder])
    try:
        yield client[db_name], recorder
    finally:
        await client.drop_database(db_name)
        await disconnect_async()


async def _raw(db: Any, collection: str) -> list[dict[str, Any]]:
    return await db[collection].find({}, {"_id": 0}).sort("name").to_list()  # type: ignore[no-any-return]


async def test_async_save_inserts_then_updates_only_the_changed_field(
    recorded_db: tuple[Any, Recorder],
) -> None:
    db, recorder = recorded_db
    person = Person(name="Ann", email="ann@x.org", age=30)
    assert await person.async_save() is person
    assert person.id is not None
    assert await _raw(db, "person") == [{"name": "Ann", "email": "ann@x.org", "age": 30}]

    loaded = await Person.objects.async_get(name="Ann")
    loaded.age = 31
    recorder.events.clear()
    await loaded.async_save()
    updates = [e.command["updates"][0] for e in recorder.events if e.command_name == "update"]
    assert [u["u"] for u in updates] == [{"$set": {"age": 31}}]
    assert await _raw(db, "person") == [{"name": "Ann", "email": "ann@x.org", "age": 31}]


async def test_indexes_are_made_on_first_async_use_not_at_import(
    recorded_db: tuple[Any, Recorder],
) -> None:
    db, recorder = recorded_db
    queryset = Person.objects.filter(age__gt=1)  # building a queryset does no I/O
    assert recorder.names() == []
    assert "person" not in await db.list_collection_names()
    assert await queryset.async_count() == 0
    assert "createIndexes" in recorder.names()
    index_names = set(await db["person"].index_information())
    assert {"age_1", "email_1"} <= index_names
    recorder.events.clear()
    await Person.objects.async_count()
    assert "createIndexes" not in recorder.names()  # only once


async def test_validation_happens_before_any_write(any_async_db: Any) -> None:
    with pytest.raises(ValidationError):
        await Person(name="x" * 50).async_save()
    with pytest.raises(ValidationError):
        await Person(age=3).async_save()
    assert await any_async_db["person"].count_documents({}) == 0


async def test_duplicate_unique_raises_not_unique(any_async_db: Any) -> None:
    await Person(name="A", email="same@x.org").async_save()
    with pytest.raises(NotUniqueError):
        await Person(name="B", email="same@x.org").async_save()
    assert [d["name"] for d in await _raw(any_async_db, "person")] == ["A"]


async def test_write_concern_and_save_condition(async_db: Any) -> None:
    person = await Person(name="Cy", age=1).async_save(write_concern={"w": 1})
    person.age = 2
    with pytest.raises(SaveConditionError):
        await person.async_save(save_condition={"age": 99})
    assert (await _raw(async_db, "person"))[0]["age"] == 1
    await person.async_save(save_condition={"age": 1})
    assert (await _raw(async_db, "person"))[0]["age"] == 2


async def test_cascade_save_saves_referenced_documents(any_async_db: Any) -> None:
    team = await Team(name="Reds").async_save()
    player = await Player(name="P", team=team).async_save()
    team.name = "Blues"
    await player.async_save(cascade=True)
    assert [d["name"] for d in await _raw(any_async_db, "team")] == ["Blues"]


async def test_signals_fire_around_async_save_and_delete(any_async_db: Any) -> None:
    seen: list[tuple[str, Any]] = []

    def pre_save(sender: Any, document: Any, **kwargs: Any) -> None:
        seen.append(("pre_save", document.name))

    def post_save(sender: Any, document: Any, created: bool, **kwargs: Any) -> None:
        seen.append(("post_save", created))

    def pre_delete(sender: Any, document: Any, **kwargs: Any) -> None:
        seen.append(("pre_delete", document.name))

    def post_delete(sender: Any, document: Any, **kwargs: Any) -> None:
        seen.append(("post_delete", document.name))

    receivers = [
        (signals.pre_save, pre_save),
        (signals.post_save, post_save),
        (signals.pre_delete, pre_delete),
        (signals.post_delete, post_delete),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, sender=Person)
    try:
        person = await Person(name="Sig").async_save()
        person.age = 5
        await person.async_save()
        await person.async_delete()
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver, sender=Person)
    assert seen == [
        ("pre_save", "Sig"),
        ("post_save", True),
        ("pre_save", "Sig"),
        ("post_save", False),
        ("pre_delete", "Sig"),
        ("post_delete", "Sig"),
    ]
    assert await any_async_db["person"].count_documents({}) == 0


async def test_async_reload_all_fields_and_some(any_async_db: Any) -> None:
    person = await Person(name="Re", age=1, email="re@x.org").async_save()
    await any_async_db["person"].update_one({}, {"$set": {"age": 7, "email": "new@x.org"}})
    await person.async_reload("age")
    assert (person.age, person.email) == (7, "re@x.org")
    await person.async_reload()
    assert person.email == "new@x.org"
    await any_async_db["person"].delete_many({})
    with pytest.raises(DoesNotExist):
        await person.async_reload()


async def test_async_update_and_modify(any_async_db: Any) -> None:
    person = await Person(name="Up", age=1).async_save()
    assert await person.async_update(inc__age=2) == 1
    assert (await _raw(any_async_db, "person"))[0]["age"] == 3
    assert await person.async_modify(query={"age": 3}, set__age=10) is True
    assert person.age == 10
    assert await person.async_modify(query={"age": 99}, set__age=20) is False
    assert person.age == 10
    assert (await _raw(any_async_db, "person"))[0]["age"] == 10


async def test_delete_rules_cascade_nullify_pull(any_async_db: Any) -> None:
    team = await Team(name="T").async_save()
    other = await Team(name="O").async_save()
    await Player(name="p1", team=team).async_save()
    await Player(name="p2", team=other).async_save()
    await Fan(name="f", team=team, teams=[team, other]).async_save()
    await team.async_delete()
    assert [d["name"] for d in await _raw(any_async_db, "player")] == ["p2"]
    fan = (await _raw(any_async_db, "fan"))[0]
    assert "team" not in fan
    assert fan["teams"] == [other.id]


async def test_delete_rule_deny_refuses_and_deletes_nothing(any_async_db: Any) -> None:
    team = await Team(name="Home").async_save()
    await Player(name="p", team=team).async_save()
    await Stadium(name="s", team=team).async_save()
    with pytest.raises(OperationError, match="Could not delete document"):
        await team.async_delete()
    assert await any_async_db["team"].count_documents({}) == 1
    assert await any_async_db["player"].count_documents({}) == 1


async def test_index_methods_match_the_sync_methods(async_db: Any, sync_db: Any) -> None:
    await Person.async_ensure_indexes()
    SyncPerson.ensure_indexes()
    assert await Person.async_list_indexes() == SyncPerson.list_indexes()
    assert await Person.async_compare_indexes() == SyncPerson.compare_indexes()
    await Person.async_create_index(["name"])
    names = set(await async_db["person"].index_information())
    assert "name_1" in names
    assert (await Person.async_compare_indexes())["extra"] == [[("name", 1)]]


async def test_drop_collection_and_indexes_come_back(async_db: Any) -> None:
    await Person(name="D").async_save()
    await Person.async_drop_collection()
    assert "person" not in await async_db.list_collection_names()
    await Person(name="E").async_save()
    names = set(await async_db["person"].index_information())
    assert "age_1" in names


async def test_results_and_errors_match_sync_mongoengine(async_db: Any, sync_db: Any) -> None:
    async def async_run() -> list[Any]:
        out: list[Any] = []
        await Person(name="M1", age=1).async_save()
        await Person(name="M2", age=1).async_save()
        out.append((await Person.objects.async_get(name="M1")).age)
        for query in ({"name": "nobody"}, {"age": 1}):
            try:
                await Person.objects.async_get(**query)
            except (DoesNotExist, MultipleObjectsReturned) as exc:
                out.append(type(exc).__name__)
        out.append(await Person.objects(age=1).async_update(inc__age=1))
        out.append(await Person.objects.async_count())
        out.append(await Person.objects(name="M1").async_delete())
        return out

    def sync_run() -> list[Any]:
        out: list[Any] = []
        SyncPerson(name="M1", age=1).save()
        SyncPerson(name="M2", age=1).save()
        out.append(SyncPerson.objects.get(name="M1").age)
        for query in ({"name": "nobody"}, {"age": 1}):
            try:
                SyncPerson.objects.get(**query)
            except (DoesNotExist, MultipleObjectsReturned) as exc:
                out.append(type(exc).__name__.replace("SyncPerson", "Person"))
        out.append(SyncPerson.objects(age=1).update(inc__age=1))
        out.append(SyncPerson.objects.count())
        out.append(SyncPerson.objects(name="M1").delete())
        return out

    async_result = await async_run()
    await Person.async_drop_collection()
    assert async_result == sync_run()
    assert async_result == [1, "DoesNotExist", "MultipleObjectsReturned", 2, 2, 1]
