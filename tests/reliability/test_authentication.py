"""Authentication through ``connect_async``: right credentials work, a wrong password is
``OperationFailure`` code 18 at first use, and no credential leaks."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pymongo
import pytest
from mongoengine import Document, StringField
from mongoengine.errors import OperationError
from pymongo.errors import OperationFailure

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.engine import connect_async, disconnect_async, get_async_connection
from persistence.mongo import MongoUnitOfWork
from persistence.testing import EmbeddedServer

PASSWORD = "s3cr3t-Pa55word"
WRONG = "wr0ng-Pa55word"


class Secret(Document):
    name = StringField()
    meta = {"db_alias": "authed"}


@pytest.fixture(scope="module")
def auth_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        with pymongo.MongoClient(server.uri) as client:
            client.admin.command("createUser", "app", pwd=PASSWORD, roles=["root"])
        server.auth = True
        server.restart()
        yield server


async def test_right_credentials_work(auth_server: EmbeddedServer) -> None:
    await connect_async(
        "vault", alias="authed", host=auth_server.uri, username="app", password=PASSWORD
    )
    try:
        await Secret(name="kept").async_save()
        assert [s.name async for s in Secret.objects] == ["kept"]
    finally:
        await disconnect_async("authed")


async def test_a_wrong_password_fails_at_first_use_without_leaking(
    auth_server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    uri = auth_server.uri.replace("mongodb://", f"mongodb://app:{WRONG}@")
    client = await connect_async("vault", alias="authed", host=uri)  # no I/O yet: no error
    try:
        with pytest.raises(OperationFailure) as info:
            await Secret.objects.async_count()
        assert info.value.code == 18  # AuthenticationFailed
        with pytest.raises(OperationError) as on_save:  # MongoEngine wraps write errors
            await Secret(name="x").async_save()
        assert isinstance(on_save.value.__context__, OperationFailure)
        assert on_save.value.__context__.code == 18
        with pytest.raises(OperationFailure) as again:
            async with MongoUnitOfWork(registry, alias="authed") as uow:
                await uow.users.add(User(name="Eve", email="eve@example.com"))
        texts = [
            repr(client),
            str(client),
            repr(get_async_connection("authed")),
            str(info.value),
            repr(info.value),
            str(info.value.details),
            str(again.value),
            str(on_save.value),
            caplog.text,
        ]
        for text in texts:
            assert WRONG not in text
            assert PASSWORD not in text
    finally:
        await disconnect_async("authed")
