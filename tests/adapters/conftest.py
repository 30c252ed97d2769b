"""``commands``: the commands a test sends, on a fresh alias ``default`` (see ``wire``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from persistence.engine import connect_async, disconnect_async
from wire import Commands


@pytest.fixture
async def commands(mongodb_uri: str) -> AsyncIterator[Commands]:
    listener = Commands()
    name = f"wire_{uuid.uuid4().hex[:10]}"
    client = await connect_async(
        name, alias="default", host=mongodb_uri, event_listeners=[listener]
    )
    try:
        yield listener
    finally:
        await client.drop_database(name)
        await disconnect_async("default")
