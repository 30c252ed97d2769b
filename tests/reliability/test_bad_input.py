"""Bad input gets a clear error and writes nothing; user strings cannot become operators."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import Document, IntField, StringField
from mongoengine.errors import (
    BulkWriteError,
    FieldDoesNotExist,
    InvalidQueryError,
    LookUpError,
    NotUniqueError,
    ValidationError,
)

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.errors import Conflict, UnknownField, UnsupportedSpec
from persistence.mongo import MongoUnitOfWork
from persistence.specs import F, Matches

COUNT_ONLY = "count"


class Strict(Document):
    name = StringField(required=True, max_length=10)
    n = IntField(min_value=0)
    code = StringField(unique=True, sparse=True)


async def _stored(client: Any) -> list[dict[str, Any]]:
    db = client.get_database(Strict._get_db().name)
    return [d async for d in db["strict"].find({}, {"_id": 0})]


async def test_invalid_documents_are_refused_before_any_write(client: Any) -> None:
    from mongoengine import async_query_counter

    await Strict.async_ensure_indexes()  # done by the first use anyway
    async with async_query_counter() as queries:
        for bad in (Strict(n=1), Strict(name="x" * 11), Strict(name="ok", n=-1)):
            with pytest.raises(ValidationError):
                await bad.async_save()
        with pytest.raises(ValidationError):
            await Strict(name="ok", n="many").async_save()  # type: ignore[arg-type]
        with pytest.raises(FieldDoesNotExist):
            Strict(name="ok", colour="red")
        with pytest.raises(FieldDoesNotExist):
            await Strict.objects.async_create(name="ok", colour="red")
        assert queries == 0  # refused before anything reached the server
    assert await _stored(client) == []


async def test_entities_validate_on_creation_and_on_change(client: Any) -> None:
    with pytest.raises(ValueError, match="email"):
        User(name="Ann", email="not-an-address")
    user = User(name="Ann", email="ann@example.com")
    with pytest.raises(ValueError):
        user.name = ""
    with pytest.raises(ValueError):
        user.email = "nope"
    async with MongoUnitOfWork(registry) as uow:
        await uow.users.add(user)  # the refused changes never happened
        await uow.commit()
    async with MongoUnitOfWork(registry) as uow:
        assert (await uow.users.get(user.id)).email == "ann@example.com"


async def test_unknown_fields_and_operators_fail_before_any_query(client: Any) -> None:
    from mongoengine import async_query_counter

    await Strict.async_ensure_indexes()
    async with MongoUnitOfWork(registry, transactions=False) as uow:
        await uow.users.count()  # the users collection is prepared
    async with async_query_counter() as queries:
        with pytest.raises(InvalidQueryError):
            await Strict.objects(colour="red").async_count()
        with pytest.raises(InvalidQueryError):
            await Strict.objects(name__nosuchoperator="x").async_to_list()
        with pytest.raises(LookUpError):
            await Strict.objects.only("colour").async_to_list()
        with pytest.raises(InvalidQueryError):
            await Strict.objects(name="a").async_update(set__colour="red")
        async with MongoUnitOfWork(registry, transactions=False) as uow:
            with pytest.raises(UnknownField):
                await uow.users.find(F("colour") == "red")
            with pytest.raises(UnknownField):
                await uow.users.count(F("name__ne") == "x")
        assert queries == 0
    with pytest.raises(UnsupportedSpec):
        F("name") == {"$gt": ""}  # noqa: B015  (a value that is an operator document)


async def test_user_strings_cannot_change_a_query_through_specs(client: Any) -> None:
    async with MongoUnitOfWork(registry) as uow:
        await uow.users.add_many(
            [User(name="Ann", email="ann@example.com"), User(name="Bob", email="bob@example.com")]
        )
        await uow.commit()
    async with MongoUnitOfWork(registry) as uow:
        for hostile_path in ("name__ne", "$where", "name.$gt", "$or"):
            with pytest.raises((UnknownField, UnsupportedSpec)):
                await uow.users.find(F(hostile_path) == "x")
        for hostile_value in ({"$gt": ""}, {"$ne": None}, ["$where"]):
            with pytest.raises(UnsupportedSpec):
                await uow.users.find(F("name") == hostile_value)
        # strings that look like operators are plain values
        assert await uow.users.find(F("name") == "$gt") == []
        assert await uow.users.find(F("name") == "this.name == 'Ann'") == []
        assert await uow.users.find(F("name").in_(["$ne", "Ann"])) == [
            await uow.users.first(F("name") == "Ann")
        ]
        # a user's text in a "contains" search is escaped, never a regex
        assert await uow.users.find(F("name").contains(".*")) == []
        assert isinstance(F("name").contains(".*"), Matches)
        assert len(await uow.users.find(F("name").contains("nn"))) == 1


async def test_duplicate_keys(client: Any) -> None:
    await Strict(name="a", code="A").async_save()
    with pytest.raises(NotUniqueError):
        await Strict(name="b", code="A").async_save()
    with pytest.raises((NotUniqueError, BulkWriteError)):  # as sync MongoEngine raises
        await Strict.objects.async_insert([Strict(name="c", code="A")])
    assert [d["name"] for d in await _stored(client)] == ["a"]


async def test_what_an_ordered_bulk_insert_leaves_behind(client: Any) -> None:
    """Documented behaviour: an ordered insert stops at the first duplicate; the
    documents before it stay, the ones after it are not inserted."""
    await Strict(name="a", code="A").async_save()
    batch = [Strict(name="b", code="B"), Strict(name="dup", code="A"), Strict(name="c", code="C")]
    with pytest.raises((NotUniqueError, BulkWriteError)):
        await Strict.objects.async_insert(batch)
    assert sorted(d["name"] for d in await _stored(client)) == ["a", "b"]


async def test_add_many_conflicts_leave_nothing_inside_a_unit_of_work(client: Any) -> None:
    async with MongoUnitOfWork(registry) as uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    with pytest.raises(Conflict):
        async with MongoUnitOfWork(registry) as uow:
            await uow.users.add_many(
                [
                    User(name="Bob", email="bob@example.com"),
                    User(name="Ann again", email="ann@example.com"),
                    User(name="Cy", email="cy@example.com"),
                ]
            )
            await uow.commit()
    async with MongoUnitOfWork(registry) as uow:
        assert sorted(u.name for u in await uow.users.find()) == ["Ann"]
