"""No silent lost writes (issue 16, point 4): a repository operation created in a block
but never awaited makes ``commit()`` raise ``UnitOfWorkError`` naming it, and nothing of
the block is kept, on every adapter (mongomock has no transactions: there the writes
already awaited stay, as its rollback cannot undo them)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Product, User
from persistence.errors import UnitOfWorkError

UowFactory = Callable[[], Any]


def _kept(backend_name: str, expected: tuple[int, int]) -> tuple[int, int]:
    """What stays after a refused commit: nothing, unless rollback cannot undo writes."""
    return expected if backend_name == "mongomock" else (0, 0)


async def _counts(uow_factory: UowFactory) -> tuple[int, int]:
    async with uow_factory() as uow:
        return await uow.users.count(), await uow.products.count()


async def test_an_operation_never_awaited_fails_the_commit_and_keeps_nothing(
    uow_factory: UowFactory, backend_name: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with uow_factory() as uow:
            await uow.users.add(User(name="Ann", email="ann@example.com"))
            uow.products.add(Product(name="saw"))  # the forgotten await
            with pytest.raises(UnitOfWorkError, match=r"products\.add .*never awaited"):
                await uow.commit()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert await _counts(uow_factory) == _kept(backend_name, (1, 0))

    async with uow_factory() as uow:  # the unit of work is usable again
        await uow.users.add(User(name="Bob", email="bob@example.com"))
        await uow.commit()
    assert await _counts(uow_factory) == ((2, 0) if backend_name == "mongomock" else (1, 0))


async def test_a_nested_block_that_forgot_an_await_dooms_the_whole_unit(
    uow_factory: UowFactory, backend_name: str
) -> None:
    uow = uow_factory()

    async def service() -> None:
        async with uow:
            uow.users.remove_where  # noqa: B018 - only a bound method, not an operation
            uow.products.add(Product(name="saw"))
            uow.users.add(User(name="Bob", email="bob@example.com"))
            await uow.commit()

    async with uow:
        await uow.products.add(Product(name="axe"))
        with pytest.raises(UnitOfWorkError, match=r"products\.add, users\.add were"):
            await service()
        with pytest.raises(UnitOfWorkError, match="never awaited"):
            await uow.commit()
    assert await _counts(uow_factory) == _kept(backend_name, (0, 1))


async def test_awaited_operations_commit_as_before(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        pending = uow.products.add(Product(name="saw"))  # created now, awaited later
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await pending
        for index in range(300):  # a long block: finished operations are forgotten
            await uow.users.count()
            assert index < 300
        await uow.commit()
    assert await _counts(uow_factory) == (1, 1)
