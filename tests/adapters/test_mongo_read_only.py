"""A read-only MongoDB unit of work opens no transaction: no command it sends carries
``startTransaction`` / ``txnNumber``, and no transaction session is open meanwhile."""

from __future__ import annotations

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.engine.transactions import open_transaction_sessions
from persistence.mongo import MongoUnitOfWork
from persistence.specs import ALL
from wire import Commands


async def test_a_reading_unit_opens_no_transaction(commands: Commands) -> None:
    async with MongoUnitOfWork(registry) as uow:
        ann = await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    assert ("insert", True) in commands.sent  # the writer's insert ran in a transaction
    commands.clear()

    async with MongoUnitOfWork(registry).reading() as uow:
        assert open_transaction_sessions() == 0
        assert (await uow.users.get(ann.id)).email == "ann@example.com"
        assert await uow.users.count(ALL) == 1
        await uow.commit()
        assert open_transaction_sessions() == 0
    names = [name for name, _ in commands.sent]
    assert "find" in names
    assert not [c for c in commands.sent if c[1]], commands.sent
    assert "commitTransaction" not in names and "abortTransaction" not in names


async def test_read_only_flag_on_the_constructor(commands: Commands) -> None:
    async with MongoUnitOfWork(registry, read_only=True) as uow:
        assert open_transaction_sessions() == 0
        assert await uow.users.find(ALL) == []
    assert commands.sent and not [c for c in commands.sent if c[1]]


