"""One unit of work per task (issue 16, point 3): a second, different unit of work opened
while a block is open in the same task is refused at block start with the same
``UnitOfWorkError`` on every adapter; nested blocks of the same unit keep joining."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import User
from domain.errors import UnitOfWorkError

UowFactory = Callable[[], Any]


async def _emails(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(u.email for u in await uow.users.find())


async def test_a_second_unit_in_the_same_task_is_refused_at_block_start(
    uow_factory: UowFactory,
) -> None:
    uow, other = uow_factory(), uow_factory()
    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        with pytest.raises(UnitOfWorkError, match="Pass the open unit of work"):
            async with other:
                await other.users.add(User(name="Bob", email="bob@example.com"))
        with pytest.raises(UnitOfWorkError, match="inside `async with uow:`"):
            other.users  # noqa: B018 - the refused unit never opened
        async with uow:  # the same unit keeps joining
            await uow.users.add(User(name="Cid", email="cid@example.com"))
            await uow.commit()
        await uow.commit()
    assert await _emails(uow_factory) == ["ann@example.com", "cid@example.com"]
    async with other:  # once the block ended, the other unit opens
        await other.users.add(User(name="Bob", email="bob@example.com"))
        await other.commit()
    assert await _emails(uow_factory) == ["ann@example.com", "bob@example.com", "cid@example.com"]


async def test_a_task_started_in_the_block_is_refused_too(uow_factory: UowFactory) -> None:
    uow = uow_factory()

    async def separate() -> None:
        async with uow_factory() as other:
            await other.users.add(User(name="Bob", email="bob@example.com"))
            await other.commit()

    async with uow:
        with pytest.raises(UnitOfWorkError, match="a task runs one unit of work"):
            await asyncio.create_task(separate())
        await uow.commit()
    await asyncio.create_task(separate())  # outside any block it works
    assert await _emails(uow_factory) == ["bob@example.com"]
