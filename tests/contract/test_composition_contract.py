"""Composing units of work: nesting, sequential blocks, gathered operations, conflicts
and retries; the same on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Account, User
from domain.errors import ConcurrencyConflict, UnitOfWorkError
from domain.services import register_user

UowFactory = Callable[[], Any]


async def _emails(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(u.email for u in await uow.users.find())


async def test_a_nested_block_joins_the_outer_one(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        async with uow:
            await uow.users.add(User(name="Outer", email="outer@example.com"))
            await register_user(uow, name="Inner", email="inner@example.com")  # nested
            assert uow.depth == 1
            raise RuntimeError("the outer block fails after the inner one committed")
    assert await _emails(uow_factory) == []  # the inner commit did not commit

    async with uow:
        await uow.users.add(User(name="Outer", email="outer@example.com"))
        await register_user(uow, name="Inner", email="inner@example.com")
        await uow.commit()
    assert await _emails(uow_factory) == ["inner@example.com", "outer@example.com"]


async def test_a_failure_inside_makes_the_whole_unit_rollback_only(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    async with uow:
        await uow.users.add(User(name="Kept?", email="a@example.com"))
        with pytest.raises(ValueError):
            async with uow:
                await uow.users.add(User(name="Inner", email="b@example.com"))
                raise ValueError("inner failure, caught by the outer service")
        with pytest.raises(UnitOfWorkError, match="inner failure"):
            await uow.commit()
    assert await _emails(uow_factory) == []


async def test_a_nested_block_without_commit_or_rolled_back_dooms_the_unit(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    for end_inner in ("forgot", "rollback"):
        async with uow:
            await uow.users.add(User(name="Outer", email=f"{end_inner}@example.com"))
            async with uow:
                await uow.users.add(User(name="Inner", email=f"in-{end_inner}@example.com"))
                if end_inner == "rollback":
                    await uow.rollback()
            with pytest.raises(UnitOfWorkError):
                await uow.commit()
    assert await _emails(uow_factory) == []


async def test_sequential_blocks_are_separate_units(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    async with uow:
        await uow.users.add(User(name="First", email="first@example.com"))
        await uow.commit()
    async with uow:
        assert uow.depth == 1
        await uow.users.add(User(name="Second", email="second@example.com"))
        # left without commit: only this block rolls back
    assert await _emails(uow_factory) == ["first@example.com"]


async def test_gathered_operations_of_one_unit_are_serialized(uow_factory: UowFactory) -> None:
    users = [User(name=f"U{i}", email=f"u{i}@example.com") for i in range(12)]
    async with uow_factory() as uow:
        await asyncio.gather(*(uow.users.add(u) for u in users))
        found = await asyncio.gather(*(uow.users.get(u.id) for u in users))
        counts = await asyncio.gather(*(uow.users.count() for _ in range(5)))
        await uow.commit()
    assert [u.email for u in found] == [u.email for u in users]
    assert counts == [12] * 5
    assert len(await _emails(uow_factory)) == 12


async def test_of_two_concurrent_updates_exactly_one_wins(uow_factory: UowFactory) -> None:
    user = User(name="Original", email="o@example.com")
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    both_read = asyncio.Barrier(2)

    async def rename(name: str) -> str:
        async with uow_factory() as uow:
            current = await uow.users.get(user.id)
            await both_read.wait()
            current.name = name
            await uow.users.save(current)
            await asyncio.sleep(0.01 if name == "B" else 0)
            await uow.commit()
        return name

    results = await asyncio.gather(rename("A"), rename("B"), return_exceptions=True)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    loser = losers[0]
    assert isinstance(loser, ConcurrencyConflict) or isinstance(
        loser.__cause__, ConcurrencyConflict
    ), loser
    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
    assert (stored.name, stored.version) == (winners[0], 1)


async def test_run_retries_conflicting_blocks_until_they_all_land(
    uow_factory: UowFactory,
) -> None:
    account = Account(owner="Pool", balance=0)
    async with uow_factory() as uow:
        await uow.accounts.add(account)
        await uow.commit()
    runs = 0

    async def deposit(uow: Any) -> None:
        nonlocal runs
        runs += 1
        current = await uow.accounts.get(account.id)
        await asyncio.sleep(0)  # let the other deposits read the same version
        current.balance += 10
        await uow.accounts.save(current)

    await asyncio.gather(*(uow_factory().run(deposit) for _ in range(8)))
    async with uow_factory() as uow:
        stored = await uow.accounts.get(account.id)
    assert stored.balance == 80
    assert stored.version == 8
    assert runs > 8  # some blocks conflicted and ran again


async def test_run_does_not_retry_other_errors(uow_factory: UowFactory) -> None:
    runs = []

    async def failing(uow: Any) -> None:
        runs.append(1)
        await uow.users.add(User(name="X", email="x@example.com"))
        raise LookupError("not a conflict")

    with pytest.raises(LookupError):
        await uow_factory().run(failing)
    assert runs == [1]
