"""The repository and unit-of-work contract, identical on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import User
from domain.errors import ConcurrencyConflict, Conflict, NotFound, UnitOfWorkError
from domain.services import deactivate_users, register_user, rename_user

UowFactory = Callable[[], Any]


async def _add(uow_factory: UowFactory, **fields: Any) -> User:
    user = User(**{"name": "Ada", "email": "ada@example.com", **fields})
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def _read(uow_factory: UowFactory, user_id: str) -> User:
    async with uow_factory() as uow:
        return await uow.users.get(user_id)  # type: ignore[no-any-return]


async def test_add_then_get_in_a_new_unit_of_work(uow_factory: UowFactory) -> None:
    user = await _add(uow_factory, name="Grace", email="Grace@Example.com")
    stored = await _read(uow_factory, user.id)
    assert stored == User(id=user.id, name="Grace", email="grace@example.com")
    assert stored is not user


async def test_get_missing_raises_not_found(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound) as info:
            await uow.users.get("0" * 24)
        with pytest.raises(NotFound):
            await uow.users.get("not-an-id")
    assert "User" in str(info.value)


async def test_get_many_keeps_order_skips_missing_collapses_duplicates(
    uow_factory: UowFactory,
) -> None:
    a = await _add(uow_factory, name="A", email="a@example.com")
    b = await _add(uow_factory, name="B", email="b@example.com")
    async with uow_factory() as uow:
        found = await uow.users.get_many([b.id, "f" * 24, a.id, b.id])
        empty = await uow.users.get_many([])
    assert [u.name for u in found] == ["B", "A"]
    assert empty == []


async def test_remove_then_get_raises(uow_factory: UowFactory) -> None:
    user = await _add(uow_factory)
    async with uow_factory() as uow:
        await uow.users.remove(user.id)
        await uow.commit()
    with pytest.raises(NotFound):
        await _read(uow_factory, user.id)
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.users.remove(user.id)


async def test_duplicate_email_conflicts_and_writes_nothing(uow_factory: UowFactory) -> None:
    first = await _add(uow_factory)
    duplicate = User(name="Other", email="ADA@example.com")
    async with uow_factory() as uow:
        with pytest.raises(Conflict) as info:
            await uow.users.add(duplicate)
        with pytest.raises(UnitOfWorkError, match="earlier error"):
            await uow.commit()  # a refused write makes the unit rollback-only
    assert info.value.field == "email"
    async with uow_factory() as uow:
        assert await uow.users.get_many([first.id, duplicate.id]) == [first]


async def test_block_goes_on_after_a_refused_write_and_rollback(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    await _add(uow_factory)
    before = User(name="Before", email="before@example.com")
    after = User(name="After", email="after@example.com")
    async with uow_factory() as uow:
        await uow.users.add(before)
        with pytest.raises(Conflict):
            await uow.users.add(User(name="Dup", email="ada@example.com"))
        await uow.rollback()
        await uow.users.add(after)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_many([before.id, after.id]) == [after]


async def test_duplicate_id_conflicts(uow_factory: UowFactory) -> None:
    user = await _add(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.users.add(User(id=user.id, name="Twin", email="twin@example.com"))
    assert (await _read(uow_factory, user.id)).name == "Ada"


async def test_save_updates_and_bumps_version(uow_factory: UowFactory) -> None:
    user = await _add(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        loaded.name = "Ada L."
        saved = await uow.users.save(loaded)
        await uow.commit()
    assert saved.version == 1
    stored = await _read(uow_factory, user.id)
    assert (stored.name, stored.version) == ("Ada L.", 1)


async def test_stale_version_raises_concurrency_conflict(uow_factory: UowFactory) -> None:
    user = await _add(uow_factory)
    stale = await _read(uow_factory, user.id)
    async with uow_factory() as uow:
        fresh = await uow.users.get(user.id)
        fresh.name = "First"
        await uow.users.save(fresh)
        await uow.commit()
    async with uow_factory() as uow:
        stale.name = "Second"
        with pytest.raises(ConcurrencyConflict):
            await uow.users.save(stale)
    assert (await _read(uow_factory, user.id)).name == "First"


async def test_save_of_missing_entity_raises_not_found(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.users.save(User(name="Ghost", email="ghost@example.com"))


async def test_mutating_a_returned_entity_changes_nothing_stored(
    uow_factory: UowFactory,
) -> None:
    user = await _add(uow_factory)
    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        loaded.name = "Changed without save"
        await uow.commit()
    user.name = "Changed on the added object"
    assert (await _read(uow_factory, user.id)).name == "Ada"


async def test_exit_without_commit_rolls_back(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    user = User(name="Lost", email="lost@example.com")
    async with uow_factory() as uow:
        await uow.users.add(user)
        assert (await uow.users.get(user.id)).name == "Lost"  # visible inside the block
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.users.get(user.id)


async def test_exception_rolls_back_and_propagates(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    kept = await _add(uow_factory)
    with pytest.raises(RuntimeError, match="boom"):
        async with uow_factory() as uow:
            await uow.users.remove(kept.id)
            await uow.users.add(User(name="Lost", email="lost@example.com"))
            raise RuntimeError("boom")
    async with uow_factory() as uow:
        assert (await uow.users.get(kept.id)).name == "Ada"


async def test_rollback_discards_and_block_goes_on(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    discarded = User(name="Discarded", email="d@example.com")
    kept = User(name="Kept", email="k@example.com")
    async with uow_factory() as uow:
        await uow.users.add(discarded)
        await uow.rollback()
        await uow.users.add(kept)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_many([discarded.id, kept.id]) == [kept]


async def test_commit_twice_in_one_block(uow_factory: UowFactory) -> None:
    a = User(name="A", email="a@example.com")
    b = User(name="B", email="b@example.com")
    async with uow_factory() as uow:
        await uow.users.add(a)
        await uow.commit()
        await uow.users.add(b)
        await uow.commit()
    async with uow_factory() as uow:
        assert [u.name for u in await uow.users.get_many([a.id, b.id])] == ["A", "B"]


async def test_repository_outside_block_raises(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    with pytest.raises(UnitOfWorkError):
        uow.users  # noqa: B018
    with pytest.raises(UnitOfWorkError):
        await uow.commit()


async def test_concurrent_units_do_not_see_uncommitted_writes(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    user = User(name="Hidden", email="hidden@example.com")
    staged, checked = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with uow_factory() as uow:
            await uow.users.add(user)
            staged.set()
            await checked.wait()
            await uow.commit()

    async def reader() -> bool:
        await staged.wait()
        async with uow_factory() as uow:
            try:
                await uow.users.get(user.id)
                seen = True
            except NotFound:
                seen = False
        checked.set()
        return seen

    _, seen = await asyncio.gather(writer(), reader())
    assert seen is False
    assert (await _read(uow_factory, user.id)).name == "Hidden"


async def test_register_user_service(uow_factory: UowFactory) -> None:
    user = await register_user(uow_factory(), name="Linus", email="linus@example.com")
    with pytest.raises(Conflict):
        await register_user(uow_factory(), name="Imposter", email="linus@example.com")
    assert (await _read(uow_factory, user.id)).name == "Linus"
    renamed = await rename_user(uow_factory(), user.id, "Linus T.")
    assert renamed.version == 1
    other = await register_user(uow_factory(), name="Other", email="other@example.com")
    assert await deactivate_users(uow_factory(), [user.id, other.id, "0" * 24]) == 2
    async with uow_factory() as uow:
        users = await uow.users.get_many([user.id, other.id])
    assert [(u.name, u.active, u.version) for u in users] == [
        ("Linus T.", False, 2),
        ("Other", False, 1),
    ]


async def test_adapters_implement_the_ports(uow_factory: UowFactory) -> None:
    from domain.ports import QueryRepository, UnitOfWork

    uow = uow_factory()
    async with uow:
        assert isinstance(uow, UnitOfWork)
        assert isinstance(uow.users, QueryRepository)
        assert isinstance(uow.products, QueryRepository)
