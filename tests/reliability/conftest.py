"""Fixtures for the fault tests: a fresh database on alias "default" with a client that
gives up quickly, and the client's fail points."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import persistence.engine  # noqa: F401
from eventually import HANG_S
from persistence.engine import connect_async, disconnect_async


@pytest.fixture
async def client(mongodb_uri: str) -> AsyncIterator[Any]:
    """The ``AsyncMongoClient`` of alias "default" on a fresh database."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    async_client = await connect_async(name, alias="default", host=mongodb_uri)
    try:
        yield async_client
    finally:
        try:
            await asyncio.wait_for(async_client.drop_database(name), HANG_S)
        finally:
            await disconnect_async("default")
