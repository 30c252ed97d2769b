"""Units of work and tasks (issue 16 point 3, issue 22 point 1), on every backend.

A unit of work is a factory of blocks, one per task: one unit shared by many tasks (an
application-wide unit passed to every handler, twenty ``uow.run`` calls gathered at
once) gives each task its own block, so no task ends, commits or loses another's work;
nested blocks in the same task join; a task created inside a block opens its own block
instead of joining it; a second, different unit opened while a block is open in the same
task is refused at block start with ``UnitOfWorkError``.

The units here work on a non-default alias ("tasks"), with alias "default" connected to
another database that must stay empty: a block that lost its alias switch writes there.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import mongomock
import pytest

from adapters.registry import registry
from domain.entities import Product, User
from domain.sales import SalesOrder
from eventually import HANG_S
from persistence.engine import connect_async, disconnect_async, get_async_db
from persistence.errors import DomainError, UnitOfWorkError
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.mongo import MongoUnitOfWork

UowFactory = Callable[[], Any]
ALIAS = "tasks"
SEATS = 15
BUYERS = 20
FAILING = 7  # the buyer whose block fails after its writes


class SoldOut(DomainError):
    """No seat left."""


class CardDeclined(Exception):
    """The failing block's own error, raised after it wrote."""


@pytest.fixture
async def units(backend_name: str, mongodb_uri: str) -> AsyncIterator[UowFactory]:
    """Makes units of work on alias "tasks" of the backend under test."""
    if backend_name == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(registry, store)
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    options: dict[str, Any] = (
        {"mongo_client_class": mongomock.MongoClient}
        if backend_name == "mongomock"
        else {"host": mongodb_uri}
    )
    client = await connect_async(name, alias=ALIAS, **options)
    await connect_async(f"{name}_default", alias="default", **options)
    transactions = backend_name == "mongo"
    if transactions:  # two transactions creating one collection conflict: create them first
        for document_cls in registry.documents:
            await client[name].create_collection(document_cls._get_collection_name())
    try:
        yield lambda: MongoUnitOfWork(registry, alias=ALIAS, transactions=transactions)
        default_db = get_async_db("default")
        for collection in await default_db.list_collection_names():
            assert await default_db[collection].count_documents({}) == 0, (
                f"a block wrote to alias 'default' ({collection})"
            )
    finally:
        if transactions:
            await client.drop_database(name)
            await client.drop_database(f"{name}_default")
        await disconnect_async(ALIAS)
        await disconnect_async("default")


async def _customers(units: UowFactory) -> list[str]:
    async with units() as uow:
        return sorted(o.customer for o in await uow.orders.find())


async def _emails(units: UowFactory) -> list[str]:
    async with units() as uow:
        return sorted(u.email for u in await uow.users.find())


async def _sell_ticket(uow: Any, event_id: str, buyer: str) -> None:
    """The natural service: one seat and one order, in one block of ``uow``."""

    async def sell(uow: Any) -> None:
        event = await uow.products.get(event_id)
        await uow.orders.add(SalesOrder(customer=buyer))
        await asyncio.sleep(0)  # other work (a payment call): the tasks interleave on any backend
        if buyer == f"buyer{FAILING}":
            raise CardDeclined(buyer)  # after its write
        if event.stock == 0:
            raise SoldOut(f"{event.name} is sold out")
        event.stock -= 1
        await uow.products.save(event)

    await uow.run(sell)


async def test_twenty_tasks_sharing_one_unit_race_for_seats(
    units: UowFactory, backend_name: str
) -> None:
    uow = units()  # one unit of work, shared by every task
    event = Product(name="Concert", stock=SEATS)
    async with uow:
        await uow.products.add(event)
        await uow.commit()

    results = await asyncio.wait_for(
        asyncio.gather(
            *(_sell_ticket(uow, event.id, f"buyer{i}") for i in range(BUYERS)),
            return_exceptions=True,
        ),
        HANG_S,  # every call finishes: a hang guard, not a speed requirement
    )

    outcome = {f"buyer{i}": result for i, result in enumerate(results)}
    sold = sorted(b for b, r in outcome.items() if r is None)
    assert isinstance(outcome[f"buyer{FAILING}"], CardDeclined)
    others = [r for b, r in outcome.items() if r is not None and b != f"buyer{FAILING}"]
    assert all(isinstance(r, SoldOut) for r in others), others
    assert len(sold) == SEATS  # every seat sold, none twice
    # every acknowledged sale is stored, the failed blocks' writes are not
    # (mongomock has no transactions: there the writes of failed blocks stay)
    stored = await _customers(units)
    if backend_name == "mongomock":
        assert set(sold) | {f"buyer{FAILING}"} <= set(stored)
    else:
        assert stored == sold
    async with units() as reader:
        assert (await reader.products.get(event.id)).stock == 0
    assert uow.depth == 0  # no block left open by any task


async def test_handlers_of_an_app_wide_unit_never_end_each_others_blocks(
    units: UowFactory, backend_name: str
) -> None:
    """One handler's failing block and another's commit, interleaved on one unit."""
    app_uow = units()
    first_wrote, second_done = asyncio.Event(), asyncio.Event()

    async def failing_handler() -> None:
        async with app_uow:
            await app_uow.users.add(User(name="Fay", email="fay@example.com"))
            first_wrote.set()
            await second_done.wait()  # the other block commits meanwhile
            raise CardDeclined("fay")

    async def committing_handler() -> None:
        try:
            await first_wrote.wait()
            async with app_uow:
                assert app_uow.depth == 1  # its own block, not a nested one of the other's
                await app_uow.users.add(User(name="Cid", email="cid@example.com"))
                await app_uow.commit()
        finally:
            second_done.set()

    failing = asyncio.create_task(failing_handler())
    committing = asyncio.create_task(committing_handler())
    with pytest.raises(CardDeclined):
        await asyncio.wait_for(failing, HANG_S)
    await asyncio.wait_for(committing, HANG_S)
    kept = ["cid@example.com"] + ([] if backend_name != "mongomock" else ["fay@example.com"])
    assert await _emails(units) == sorted(kept)


async def test_a_task_created_in_a_block_opens_its_own_block(
    units: UowFactory, backend_name: str
) -> None:
    uow = units()

    async def register(name: str) -> None:
        async def add(uow: Any) -> None:
            assert uow.depth == 1  # its own outermost block
            await uow.users.add(User(name=name, email=f"{name.lower()}@example.com"))

        await uow.run(add)

    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await asyncio.create_task(register("Bob"))  # commits on its own
        assert uow.depth == 1
        # operations the block hands to gather still run in the block
        await asyncio.gather(
            uow.users.add(User(name="Cid", email="cid@example.com")),
            uow.users.add(User(name="Dan", email="dan@example.com")),
        )
        await uow.rollback()  # Bob's commit is not undone
    rolled_back = [] if backend_name != "mongomock" else ["ann", "cid", "dan"]
    assert await _emails(units) == sorted(f"{n}@example.com" for n in ["bob", *rolled_back])


async def test_a_task_created_in_a_block_cannot_use_that_block(units: UowFactory) -> None:
    uow = units()

    async def sneak_in() -> None:
        await uow.users.add(User(name="Eve", email="eve@example.com"))

    async with uow:
        with pytest.raises(UnitOfWorkError, match="another task opened"):
            await asyncio.create_task(sneak_in())
        with pytest.raises(UnitOfWorkError, match="another task opened"):
            await asyncio.create_task(uow.commit())
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    assert await _emails(units) == ["ann@example.com"]


async def test_nested_blocks_in_one_task_join(units: UowFactory, backend_name: str) -> None:
    uow = units()
    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        async with uow:
            assert uow.depth == 2
            await uow.users.add(User(name="Bob", email="bob@example.com"))
            await uow.commit()  # marks the nested block done
        await uow.run(lambda uow: uow.users.add(User(name="Cid", email="cid@example.com")))
        assert uow.depth == 1
    kept = [] if backend_name != "mongomock" else ["ann", "bob", "cid"]  # no rollback there
    assert await _emails(units) == [f"{n}@example.com" for n in kept]  # never committed...
    async with uow:
        async with uow:
            await uow.users.add(User(name="Dan", email="dan@example.com"))
            await uow.commit()
        await uow.commit()
    assert await _emails(units) == [f"{n}@example.com" for n in [*kept, "dan"]]  # ...this did


async def test_a_second_unit_in_the_same_task_is_refused_at_block_start(
    units: UowFactory,
) -> None:
    uow, other = units(), units()
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
    assert await _emails(units) == ["ann@example.com", "cid@example.com"]
    async with other:  # once the block ended, the other unit opens
        await other.users.add(User(name="Bob", email="bob@example.com"))
        await other.commit()
    assert await _emails(units) == ["ann@example.com", "bob@example.com", "cid@example.com"]


async def test_a_different_unit_in_a_task_created_in_a_block_opens_its_own(
    units: UowFactory,
) -> None:
    uow = units()

    async def separate() -> None:
        async with units() as other:
            await other.users.add(User(name="Bob", email="bob@example.com"))
            await other.commit()

    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await asyncio.create_task(separate())
        await uow.commit()
    assert await _emails(units) == ["ann@example.com", "bob@example.com"]
