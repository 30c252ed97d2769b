"""The layers benchmark runs every workload in both modes and both variants do their
work (read back); no timing is asserted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

import persistence.engine  # noqa: F401
from benchmarks.layer_workloads import (
    STORED,
    WORKLOADS,
    Bench,
    EngineMember,
    MemberDocument,
    measure,
    store_members,
)
from benchmarks.layers import MODES
from persistence.engine import connect_async, disconnect_async


@pytest.fixture
async def bench(mongodb_uri: str) -> AsyncIterator[Bench]:
    name = f"layers_{uuid.uuid4().hex[:8]}"
    client = await connect_async(name, host=mongodb_uri)
    try:
        b = Bench()
        await store_members(b)
        yield b
    finally:
        await client.drop_database(name)
        await disconnect_async()


async def test_every_workload_runs_both_ways_in_both_modes(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    for workload in WORKLOADS:  # a small size: 12 calls, 20 documents per add_many call
        monkeypatch.setattr(type(workload), "calls", min(workload.calls, 12))
        if workload.per_call > 1:
            monkeypatch.setattr(type(workload), "per_call", 20)
    for workload in WORKLOADS:
        for inside in MODES.values():
            await workload.reset(bench)
            cpu = await measure(workload, bench, inside, first="repository")
            assert cpu["engine"] > 0 and cpu["repository"] > 0, workload.name
    added = 2 * (12 + 4 * 20)  # "add" and "add_many", in both modes
    for document in (EngineMember, MemberDocument):
        assert await document.objects(age=-1).async_count() == added
        scores = [d.score for d in await document.objects(age__gte=0).async_to_list()]
        assert len(scores) == STORED and sum(scores) > 0  # saves and updates landed
