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


_STRICT_MODE_TESTS = """
import pytest
from mongoengine import Document, StringField

from adapters.registry import registry
from domain.services import register_user


@pytest.fixture
def uow_registry():
    return registry


class Note(Document):
    text = StringField()


@pytest.mark.asyncio
async def test_alias(async_alias):
    await Note(text="x").async_save()
    assert await async_alias["note"].count_documents({}) == 1


@pytest.fixture(params=["memory_uow", "mongomock_uow", "mongo_uow"])
def uow(request):
    return request.getfixturevalue(request.param)


@pytest.mark.asyncio
async def test_units(uow):
    user = await register_user(uow(), name="Ann", email="ann@example.com")
    async with uow() as unit:
        assert await unit.users.get(user.id) == user
"""


def test_the_fixtures_work_in_pytest_asyncios_strict_mode(tmp_path: Any) -> None:
    """A project that keeps pytest-asyncio's default (strict) mode marks its tests; the
    plugin's async fixtures work there as in auto mode."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "test_strict.py").write_text(_STRICT_MODE_TESTS)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(repo)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
