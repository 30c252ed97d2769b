"""The pytest plugin users enable: one service test body on each of its unit-of-work
fixtures (``memory_uow`` for speed, ``mongomock_uow`` in process, ``mongo_uow`` on the
server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.services import register_user
from persistence.errors import Conflict


@pytest.fixture(params=["memory_uow", "mongomock_uow", "mongo_uow"])
def uow(request: pytest.FixtureRequest) -> Callable[[], Any]:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


async def test_a_service_on_both_fixtures(uow: Callable[[], Any]) -> None:
    user = await register_user(uow(), name="Ann", email="ann@example.com")
    with pytest.raises(Conflict):
        await register_user(uow(), name="Ann again", email="ann@example.com")
    async with uow() as unit:
        assert [u.id for u in await unit.users.find()] == [user.id]


async def test_mongomock_uow_runs_on_a_fresh_mongomock_database(
    mongomock_uow: Callable[[], Any],
) -> None:
    from persistence.engine import get_async_connection
    from persistence.engine.mongomock_async import AsyncMongomockClient

    assert isinstance(get_async_connection(), AsyncMongomockClient)
    async with mongomock_uow() as unit:
        assert await unit.users.count() == 0
    user = await register_user(mongomock_uow(), name="Ann", email="ann@example.com")
    async with mongomock_uow().reading() as unit:
        assert await unit.users.get(user.id) == user


async def test_async_alias_is_a_fresh_database(async_alias: Any, mongodb_uri: str) -> None:
    from mongoengine import Document, StringField

    class Note(Document):
        text = StringField()

    assert await async_alias.list_collection_names() == []
    await Note(text="hello").async_save()
    assert [d["text"] async for d in async_alias["note"].find()] == ["hello"]
    assert mongodb_uri.startswith("mongodb://")


async def test_async_alias_stores_uuids_as_standard(async_alias: Any) -> None:
    import uuid

    from bson.binary import Binary, UuidRepresentation
    from bson.codec_options import CodecOptions
    from mongoengine import Document, UUIDField

    class Ticket(Document):
        code = UUIDField(binary=True)

    code = uuid.uuid4()
    await Ticket(code=code).async_save()
    assert (await Ticket.objects.async_get()).code == code
    raw = async_alias.get_collection(
        "ticket", codec_options=CodecOptions(uuid_representation=UuidRepresentation.UNSPECIFIED)
    )
    stored = (await raw.find_one())["code"]
    assert isinstance(stored, Binary) and stored.subtype == 4  # "standard", not pythonLegacy
