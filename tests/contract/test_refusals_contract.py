"""The document layer refuses the same bad entity with the same domain error on every
backend: memory, mongomock and the server run one pipeline and one translation
(``persistence/document_errors.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Account, Product, User
from persistence.errors import EntityTooLarge, InvalidEntity, UnitOfWorkError
from persistence.specs import ALL, Changes, F

UowFactory = Callable[[], Any]
INT64_MAX = 2**63 - 1


async def _names(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(u.name for u in await uow.users.find(ALL))


@pytest.mark.parametrize("email", ["a@b.c", "ü@x.io"])
async def test_a_field_the_document_refuses_is_invalid_entity(
    uow_factory: UowFactory, email: str
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="Ann", email=email))
        assert raised.value.entity == "User"
        assert list(raised.value.problems) == ["email"]
        await uow.users.add(User(name="Bob", email="bob@example.com"))  # the unit goes on
        await uow.commit()
    assert await _names(uow_factory) == ["Bob"]


async def test_a_long_refused_value_is_not_echoed(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="Ann", email="x" * 100_000 + "@b.c"))
    assert len(str(raised.value)) < 300
    assert await _names(uow_factory) == []


async def test_an_integer_beyond_int64_is_invalid_entity_and_rolls_back(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.accounts.add(Account(owner="Rich", balance=2**63))
        assert raised.value.entity == "Account"
        assert list(raised.value.problems) == ["balance"]
        with pytest.raises(UnitOfWorkError):  # found while encoding: rollback-only
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.accounts.count(ALL) == 0


async def test_text_that_is_not_unicode_is_invalid_entity(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="bad \ud800", email="ann@example.com"))
        assert list(raised.value.problems) == ["name"]
        assert "\ud800" not in str(raised.value)
    assert await _names(uow_factory) == []


async def test_an_update_past_int64_is_invalid_entity(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.accounts.add(Account(owner="Full", balance=INT64_MAX))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.accounts.update_where(F("owner") == "Full", Changes().set("balance", 2**64))
        assert list(raised.value.problems) == ["balance"]
    async with uow_factory() as uow:
        assert [a.balance for a in await uow.accounts.find(ALL)] == [INT64_MAX]


async def test_a_document_over_16_mb_is_entity_too_large(uow_factory: UowFactory) -> None:
    huge = ["x" * 1_000_000] * 17
    async with uow_factory() as uow:
        with pytest.raises(EntityTooLarge) as raised:
            await uow.products.add(Product(name="Big", tags=huge))
        assert raised.value.entity == "Product"
        assert len(str(raised.value)) < 300
    async with uow_factory() as uow:
        with pytest.raises(EntityTooLarge):
            await uow.products.add_many([Product(name="Big", tags=huge)])
    async with uow_factory() as uow:
        assert await uow.products.count(ALL) == 0
