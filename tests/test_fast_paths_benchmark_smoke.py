"""The fast paths' on/off benchmark switches each fast path off and back on, and every
workload does its work both ways (read back); no timing is asserted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import persistence.engine  # noqa: F401
from benchmarks import fast_paths
from persistence.engine import connect_async, disconnect_async


@pytest.fixture
async def database(mongodb_uri: str) -> AsyncIterator[Any]:
    name = f"fast_paths_{uuid.uuid4().hex[:8]}"
    client = await connect_async(name, host=mongodb_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await disconnect_async()


async def test_each_fast_path_is_measured_on_and_off(database: Any) -> None:
    from mongoengine.document import Document
    from mongoengine.queryset.base import BaseQuerySet

    before = (dict(vars(Document)), dict(vars(BaseQuerySet)))
    rows = await fast_paths.measure(1, None, None)
    assert [(row[0], row[1]) for row in rows] == [
        (path, name) for path, names in fast_paths.PLAN.items() for name in names
    ]
    assert all(row[2] > 0 and row[3] > 0 for row in rows)
    assert (dict(vars(Document)), dict(vars(BaseQuerySet))) == before  # all switched back
    people = [name for name in await database.list_collection_names() if "people" in name]
    assert len(people) == 1
    stored = await database[people[0]].count_documents({})
    runs = sum(names.count("insert_one") for names in fast_paths.PLAN.values())
    assert stored == 300 + 50 * 4 * runs  # seeded; per measured pair 2 warm-ups, 2 blocks
