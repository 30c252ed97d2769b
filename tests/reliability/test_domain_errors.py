"""Every refusal of an entity by the document layer, and every outage, reaches the
caller as a domain error it can act on (never a driver error or its text)."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import connect_async, disconnect_async

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import Account, Product, User
from domain.services import transfer_funds
from persistence.errors import EntityTooLarge, InvalidEntity, StoreUnavailable, UnitOfWorkError
from persistence.mongo import MongoUnitOfWork
from persistence.retry_policy import RetryPolicy
from persistence.specs import Changes, F
from persistence.testing import async_fail_point

INT64_MAX = 2**63 - 1


async def _users(client: Any) -> list[dict[str, Any]]:
    async with MongoUnitOfWork(registry) as uow:
        return [{"name": u.name, "email": u.email} for u in await uow.users.find()]


@pytest.mark.parametrize("email", ["a@b.c", "ü@x.io"])
async def test_an_address_the_document_rejects_is_invalid_entity(client: Any, email: str) -> None:
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="Ann", email=email))
        assert list(raised.value.problems) == ["email"]
        assert raised.value.entity == "User"
        await uow.users.add(User(name="Bob", email="bob@example.com"))  # the unit goes on
        await uow.commit()
    assert await _users(client) == [{"name": "Bob", "email": "bob@example.com"}]


async def test_a_long_rejected_value_is_not_echoed_back(client: Any) -> None:
    local = "x" * 1_000_000
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="Ann", email=f"{local}@b.c"))
    assert len(str(raised.value)) < 300
    assert await _users(client) == []


async def test_integers_beyond_int64_are_invalid_entity_naming_the_field(client: Any) -> None:
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.accounts.add(Account(owner="Rich", balance=2**63))
        assert list(raised.value.problems) == ["balance"]
        with pytest.raises(UnitOfWorkError):  # found while encoding: the unit rolls back
            await uow.commit()
    async with MongoUnitOfWork(registry) as uow:
        full = await uow.accounts.add(Account(owner="Full", balance=INT64_MAX))
        other = await uow.accounts.add(Account(owner="Other", balance=10))
        await uow.commit()
    with pytest.raises(InvalidEntity) as raised:  # a transfer into the full account
        await transfer_funds(MongoUnitOfWork(registry), other.id, full.id, 1)
    assert list(raised.value.problems) == ["balance"]
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.accounts.update_where(F("owner") == "Other", Changes().set("balance", 2**64))
        assert list(raised.value.problems) == ["balance"]
    async with MongoUnitOfWork(registry) as uow:
        stored = {a.owner: a.balance for a in await uow.accounts.find()}
    assert stored == {"Full": INT64_MAX, "Other": 10}  # nothing moved


async def test_text_that_is_not_unicode_is_invalid_entity(client: Any) -> None:
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(InvalidEntity) as raised:
            await uow.users.add(User(name="bad \ud800", email="ann@example.com"))
        assert list(raised.value.problems) == ["name"]
        assert "\ud800" not in str(raised.value)
    assert await _users(client) == []


async def test_a_document_over_16_mb_is_entity_too_large(client: Any) -> None:
    huge = ["x" * 1_000_000] * 17
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(EntityTooLarge):
            await uow.products.add(Product(name="Huge", tags=huge))
    async with MongoUnitOfWork(registry) as uow:
        with pytest.raises(EntityTooLarge):
            await uow.products.add_many([Product(name="Huge", tags=huge)])
    async with MongoUnitOfWork(registry) as uow:
        small = await uow.products.add(Product(name="Small"))
        await uow.commit()
    async with MongoUnitOfWork(registry) as uow:
        small.tags = huge
        with pytest.raises(EntityTooLarge):
            await uow.products.save(small)
    async with MongoUnitOfWork(registry) as uow:
        assert [(p.name, p.tags) for p in await uow.products.find()] == [("Small", [])]


async def test_a_dropped_connection_in_a_block_is_store_unavailable_and_retry_safe(
    client: Any,
) -> None:
    user = User(name="Ann", email="ann@example.com")
    async with MongoUnitOfWork(registry) as uow:
        await uow.users.add(user)
        await uow.commit()
    data = {"failCommands": ["find"], "closeConnection": True}
    async with async_fail_point(client, data=data):
        with pytest.raises(StoreUnavailable) as raised:
            async with MongoUnitOfWork(registry) as uow:
                await uow.users.get(user.id)
    assert raised.value.retry_safe
    assert "closed" not in str(raised.value)  # no driver text


async def test_a_write_outside_a_transaction_whose_connection_drops_is_not_retry_safe(
    client: Any,
) -> None:
    # the driver retries the write until the outage budget is spent: a short one
    briefly = RetryPolicy(outage_budget=2.0)
    async with MongoUnitOfWork(registry, transactions=False, retry_policy=briefly) as uow:
        await uow.users.count()  # connected
        data = {"failCommands": ["insert"], "closeConnection": True}
        async with async_fail_point(client, data=data):
            with pytest.raises(StoreUnavailable) as raised:
                await uow.users.add(User(name="Ann", email="ann@example.com"))
    assert not raised.value.retry_safe  # sent: it may have been applied


async def test_a_lost_transaction_at_commit_is_store_unavailable_and_retry_safe(
    client: Any,
) -> None:
    """NoSuchTransaction at commit may follow a commit that landed (a retried commit on
    a restarted server): it is settled by the commit record, absent here."""
    async with MongoUnitOfWork(registry) as uow:
        await uow.users.count()
    data = {
        "failCommands": ["commitTransaction"],
        "errorCode": 251,  # NoSuchTransaction, as after a server restart
        "errorLabels": ["TransientTransactionError"],
    }
    async with async_fail_point(client, mode={"times": 1}, data=data):
        with pytest.raises(StoreUnavailable) as raised:
            async with MongoUnitOfWork(registry) as uow:
                await uow.users.add(User(name="Ann", email="ann@example.com"))
                await uow.commit()
    assert raised.value.retry_safe
    assert await _users(client) == []


async def test_an_unreachable_store_is_store_unavailable_and_retry_safe() -> None:
    await connect_async(
        "nowhere_db",
        alias="nowhere",
        host="mongodb://127.0.0.1:1/",
        serverSelectionTimeoutMS=200,
        uuidRepresentation="standard",
    )
    try:
        with pytest.raises(StoreUnavailable) as raised:
            async with MongoUnitOfWork(registry, alias="nowhere"):
                pass  # pragma: no cover - never entered
        assert raised.value.retry_safe
        async with MongoUnitOfWork(registry, alias="nowhere", transactions=False) as uow:
            with pytest.raises(StoreUnavailable) as raised:
                await uow.users.count()
            assert raised.value.retry_safe  # a read
            with pytest.raises(StoreUnavailable) as raised:
                await uow.users.add(User(name="Ann", email="ann@example.com"))
            assert raised.value.retry_safe  # found unreachable before it was sent
    finally:
        await disconnect_async("nowhere")
