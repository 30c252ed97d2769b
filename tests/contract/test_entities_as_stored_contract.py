"""What ``add``/``add_many`` return is the entity as stored: what a later ``get`` gives,
on every backend, when the Documents' own loading changes values (issue 21, item 2): a
field class that overrides ``__set__``, an ``__init__`` overridden in an abstract base,
a connected ``post_init`` receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from mongoengine import Document, IntField, StringField, signals

from persistence.ids import new_id
from persistence.registry import Registry


class StrippedString(StringField):
    """Strips the value it is given, as MongoEngine's loading assigns it too."""

    def __set__(self, instance: Any, value: Any) -> None:
        super().__set__(instance, value.strip() if isinstance(value, str) else value)


@attrs.define(kw_only=True)
class Member:
    id: str = attrs.field(factory=new_id)
    name: str | None = None
    age: int | None = None


class MemberDocument(Document):
    name = StrippedString()
    age = IntField()
    meta = {"collection": "stored_members"}


class Shouting(Document):
    """An abstract base whose ``__init__`` upper-cases the name once loaded."""

    meta = {"abstract": True}

    def __init__(self, *args: Any, **values: Any) -> None:
        super().__init__(*args, **values)
        if isinstance(self._data.get("name"), str):
            self._data["name"] = self._data["name"].upper()


@attrs.define(kw_only=True)
class Pet:
    id: str = attrs.field(factory=new_id)
    name: str | None = None


class PetDocument(Shouting):
    name = StringField()
    meta = {"collection": "stored_pets"}


members = Registry()
members.add(Member, MemberDocument)
members.add(Pet, PetDocument)

MakeUow = Callable[[], Any]


@pytest.fixture
def members_uow(backend: Callable[[Registry], Any]) -> MakeUow:
    return lambda: backend(members)


async def test_a_field_that_converts_on_assignment(members_uow: MakeUow) -> None:
    async with members_uow() as uow:
        added = await uow.repo(Member).add(Member(name="  Ada  ", age=3))
        many = await uow.repo(Member).add_many([Member(name=" Bo "), Member(name="Cy")])
        await uow.commit()
    assert added.name == "Ada" and [m.name for m in many] == ["Bo", "Cy"]
    async with members_uow() as uow:
        assert await uow.repo(Member).get(added.id) == added
        assert await uow.repo(Member).get_many([m.id for m in many]) == many


async def test_an_init_overridden_in_a_base_class(members_uow: MakeUow) -> None:
    async with members_uow() as uow:
        added = await uow.repo(Pet).add(Pet(name="rex"))
        [many] = await uow.repo(Pet).add_many([Pet(name="fido")])
        await uow.commit()
    assert (added.name, many.name) == ("REX", "FIDO")
    async with members_uow() as uow:
        assert await uow.repo(Pet).get(added.id) == added
        assert await uow.repo(Pet).get(many.id) == many


def _older(sender: Any, document: Any, **_: Any) -> None:
    if sender is MemberDocument and document._data.get("age") is not None:
        document._data["age"] += 100


@pytest.fixture
def post_init_receiver() -> Iterator[None]:
    signals.post_init.connect(_older)
    try:
        yield
    finally:
        signals.post_init.disconnect(_older)


async def test_a_post_init_receiver(members_uow: MakeUow, post_init_receiver: None) -> None:
    async with members_uow() as uow:
        added = await uow.repo(Member).add(Member(name="Ann", age=1))
        await uow.commit()
    async with members_uow() as uow:
        got = await uow.repo(Member).get(added.id)
    assert added.age > 1  # the receiver ran on what add returned
    assert got.age == added.age


async def test_documents_stored_by_another_writer(members_uow: MakeUow, backend_name: str) -> None:
    if backend_name == "memory":
        pytest.skip("memory has no documents written outside the layer")
    from bson import ObjectId

    from persistence.engine.class_collections import async_collection_of
    from persistence.specs import ALL

    member_id, pet_id = ObjectId(), ObjectId()
    await async_collection_of(MemberDocument).insert_one({"_id": member_id, "name": "  Ada  "})
    await async_collection_of(PetDocument).insert_one({"_id": pet_id, "name": "rex"})
    async with members_uow() as uow:
        members_repo, pets = uow.repo(Member), uow.repo(Pet)
        assert (await members_repo.get(str(member_id))).name == "Ada"
        assert [m.name for m in await members_repo.find(ALL)] == ["Ada"]
        assert [m.name async for m in members_repo.iterate(ALL)] == ["Ada"]
        assert [p.name for p in await pets.get_many([str(pet_id)])] == ["REX"]
    # what MongoEngine's own loading gives
    assert MemberDocument._from_son({"_id": member_id, "name": "  Ada  "}).name == "Ada"
