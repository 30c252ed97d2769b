"""The mongo unit of work refuses, at the start of the block, a backend without
transactions, instead of failing later with the server's code-20 error."""

from __future__ import annotations

import mongomock
import pytest

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.engine import connect_async, disconnect_async
from persistence.errors import TransactionsUnsupported
from persistence.mongo import MongoUnitOfWork
from persistence.testing import EmbeddedServer


async def test_a_standalone_server_is_refused_when_the_block_starts() -> None:
    server = EmbeddedServer(extra_args=["--standalone"]).start()
    reached = False
    try:
        await connect_async("standalone_uow", alias="standalone", host=server.uri)
        with pytest.raises(TransactionsUnsupported, match="standalone"):
            async with MongoUnitOfWork(registry, alias="standalone"):
                reached = True  # pragma: no cover
        async with MongoUnitOfWork(registry, alias="standalone", transactions=False) as uow:
            await uow.users.add(User(name="Ann", email="ann@example.com"))
        async with MongoUnitOfWork(registry, alias="standalone", transactions=False) as uow:
            assert await uow.users.count() == 1  # applied at once, as documented
    finally:
        await disconnect_async("standalone")
        server.stop()
    assert not reached


async def test_mongomock_is_refused_when_the_block_starts() -> None:
    await connect_async("m", alias="mock", mongo_client_class=mongomock.MongoClient)
    try:
        with pytest.raises(TransactionsUnsupported, match="mongomock"):
            async with MongoUnitOfWork(registry, alias="mock"):
                pytest.fail("the block must not run")  # pragma: no cover
    finally:
        await disconnect_async("mock")
