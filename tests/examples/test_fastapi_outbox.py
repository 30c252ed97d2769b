"""The reference service publishes ``TransferCompleted`` from the transfer's block, and
the worker started beside the FastAPI app consumes it (issue 24, point 6): on the memory
adapter (a service's unit test) and on the server (change streams)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.http.app import create_app
from adapters.registry import registry
from domain.errors import InsufficientFunds
from domain.events import TransferCompleted
from domain.services import transfer_funds
from eventually import until
from persistence.engine import get_async_connection
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.outbox.memory import MemoryOutbox


async def _transfer(client: httpx.AsyncClient) -> tuple[str, str]:
    ann = (await client.post("/accounts", json={"owner": "ann", "balance": 100})).json()["id"]
    bob = (await client.post("/accounts", json={"owner": "bob", "balance": 0})).json()["id"]
    answer = await client.post("/transfers", json={"source": ann, "target": bob, "amount": 30})
    assert answer.status_code < 300, answer.text
    refused = await client.post("/transfers", json={"source": bob, "target": ann, "amount": 99})
    assert refused.status_code == 409  # rolled back: publishes nothing
    return ann, bob


async def _served(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            yield client


async def test_a_transfer_service_unit_test_asserts_the_event_it_published() -> None:
    store = InMemoryStore()
    uow = InMemoryUnitOfWork(registry, store)
    from domain.entities import Account

    ann, bob = Account(owner="ann", balance=50), Account(owner="bob")
    async with uow:
        await uow.accounts.add_many([ann, bob])
        await uow.commit()
    await transfer_funds(uow, ann.id, bob.id, 20)
    with pytest.raises(InsufficientFunds):
        await transfer_funds(uow, bob.id, ann.id, 500)
    assert [p.event for p in MemoryOutbox(store).events()] == [
        TransferCompleted(ann.id, bob.id, 20)
    ]


async def test_the_worker_beside_the_app_consumes_transfers_on_memory() -> None:
    store = InMemoryStore()
    app = create_app(lambda: InMemoryUnitOfWork(registry, store), outbox=MemoryOutbox(store))
    async for client in _served(app):
        ann, bob = await _transfer(client)
        notices = app.state.transfer_notices.notices
        await until(lambda n=notices: len(n) == 1, "the worker saw the transfer")
        assert [(n["source"], n["target"], n["amount"]) for n in notices] == [(ann, bob, 30)]


async def test_the_worker_beside_the_app_consumes_transfers_on_the_server(mongodb_uri: str) -> None:
    db = f"blog_{uuid.uuid4().hex[:10]}"
    app = create_app(uri=mongodb_uri, db=db)
    async for client in _served(app):
        ann, bob = await _transfer(client)
        notices = app.state.transfer_notices.notices
        await until(lambda n=notices: len(n) == 1, "the worker saw the transfer")
        assert [(n["source"], n["target"], n["amount"]) for n in notices] == [(ann, bob, 30)]
        await get_async_connection().drop_database(db)
