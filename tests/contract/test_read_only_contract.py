"""A read-only unit of work (``uow.reading()``) on every backend: it reads what is
committed, including commits made while it is open, and refuses every write before
any I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Account, User
from persistence.errors import NotFound, UnitOfWorkError
from persistence.specs import ALL, Changes, F

UowFactory = Callable[[], Any]


async def test_reads_see_committed_data(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        ann = await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    reader = uow_factory().reading()
    assert reader.read_only and not uow_factory().read_only
    async with reader as uow:
        assert (await uow.users.get(ann.id)).name == "Ann"
        assert [u.id for u in await uow.users.find(ALL)] == [ann.id]
        async with uow_factory() as writer:  # committed while the reader is open
            bob = await writer.users.add(User(name="Bob", email="bob@example.com"))
            await writer.commit()
        assert await uow.users.count(ALL) == 2  # no snapshot: the newer commit is seen
        assert (await uow.users.get(bob.id)).name == "Bob"
        with pytest.raises(NotFound):
            await uow.users.get("0" * 24)


async def test_uncommitted_writes_are_not_seen(uow_factory: UowFactory, requires: Any) -> None:
    requires("transactions")
    async with uow_factory() as writer:
        await writer.users.add(User(name="Ann", email="ann@example.com"))
        async with uow_factory().reading() as uow:
            assert await uow.users.count(ALL) == 0
        await writer.rollback()


async def test_every_write_is_refused_and_nothing_is_written(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        account = await uow.accounts.add(Account(owner="Ann", balance=10))
        await uow.commit()
    async with uow_factory().reading() as uow:
        repo = uow.accounts
        writes = [
            repo.add(Account(owner="Bob", balance=1)),
            repo.add_many([Account(owner="Bob", balance=1)]),
            repo.save(Account(id=account.id, owner="Ann", balance=99, version=account.version)),
            repo.remove(account.id),
            repo.update_where(F("owner") == "Ann", Changes().set("balance", 99)),
            repo.remove_where(ALL),
        ]
        for write in writes:
            with pytest.raises(UnitOfWorkError, match="read-only"):
                await write
        with pytest.raises(UnitOfWorkError, match="read-only"):
            await uow.repo(Account).add(Account(owner="Bob", balance=1))
        with pytest.raises(UnitOfWorkError, match="read-only"):
            await uow.files.put(b"data", filename="x.bin")
        with pytest.raises(UnitOfWorkError, match="read-only"):
            await uow.files.delete("0" * 24)
        await uow.commit()  # nothing to keep: allowed
    async with uow_factory() as uow:
        assert [(a.owner, a.balance) for a in await uow.accounts.find(ALL)] == [("Ann", 10)]


async def test_run_on_a_reader_returns_the_result(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()

    async def names(uow: Any) -> list[str]:
        return [u.name for u in await uow.users.find(ALL)]

    assert await uow_factory().reading().run(names) == ["Ann"]
