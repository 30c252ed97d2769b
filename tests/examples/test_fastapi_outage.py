"""The FastAPI blog during a database outage (issue 22, point 4): reads and writes answer
503 with the documented body, within the app's deadline (its units of work wait for the
database at most their outage budget), and the app recovers when the database is back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.http.app import OUTAGE_BUDGET, REQUEST_DEADLINE, create_app
from eventually import HANG_S
from persistence.testing import EmbeddedServer


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedServer]:
    started = EmbeddedServer().start()
    try:
        yield started
    finally:
        started.stop()


def test_the_outage_budget_fits_in_the_request_deadline() -> None:
    assert 0 < OUTAGE_BUDGET < REQUEST_DEADLINE


async def test_an_outage_is_503_within_the_deadline_and_the_app_recovers(
    server: EmbeddedServer, waits: list[float]
) -> None:
    app = create_app(uri=server.uri, db="blog_outage", outage_budget=1.0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as http:
            created = await http.post("/accounts", json={"owner": "Ann", "balance": 10})
            assert created.status_code == 201
            ann = created.json()["id"]

            server.stop(keep_storage=True)
            waits.clear()
            responses = [
                await http.post("/accounts", json={"owner": "Bob", "balance": 5}),
                await http.get(f"/accounts/{ann}"),
                await http.post("/transfers", json={"source": ann, "target": ann, "amount": 1}),
                await http.post("/authors", json={"name": "Cid"}),
            ]
            assert [r.status_code for r in responses] == [503] * len(responses)
            assert {r.json()["error"] for r in responses} == {"StoreUnavailable"}
            assert waits and max(waits) <= 1.0  # the unit's budget, not the driver's 30 s

            server.start()
            give_up = time.monotonic() + HANG_S  # a hang guard, not a speed requirement
            while (answer := await http.get(f"/accounts/{ann}")).status_code == 503:
                assert time.monotonic() < give_up, "the app did not recover"
            assert answer.json()["balance"] == 10
