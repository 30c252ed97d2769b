"""A block's events are in its commit record (issue 24 with issue 22): a commit whose
answer is lost in a server restart publishes its events exactly once, whether it landed
(not run again) or not (run again, its events written by the second run only)."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from test_exactly_once import ALIAS, _connect, _open_wallets, _proxied, _restart, _transfer, ledger

import persistence  # noqa: F401
from eventually import HANG_S
from persistence.engine import get_async_db
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import domain_event


@domain_event("exactly_once.moved")
@attrs.frozen
class Moved:
    key: str
    run: int


@pytest.mark.parametrize("landed", [True, False], ids=["reply-lost", "command-lost"])
async def test_events_of_a_commit_whose_answer_is_lost_in_a_restart_are_written_once(
    landed: bool,
) -> None:
    async with _proxied() as (server, proxy):
        await _connect(proxy.port)
        uow = MongoUnitOfWork(ledger, alias=ALIAS)
        ann, bob = await _open_wallets(uow, 2)
        runs: list[int] = []
        move = _transfer("t1", ann, bob, 30)

        async def transfer(uow: Any) -> None:
            runs.append(1)
            await move(uow)
            uow.publish(Moved("t1", len(runs)))

        proxy.arm(swallow_command=not landed)
        running = asyncio.create_task(uow.run(transfer))
        await asyncio.wait_for(proxy.swallowed.wait(), HANG_S)
        await _restart(server)
        await asyncio.wait_for(running, HANG_S)

        records = get_async_db(ALIAS)["persistence_commits"]
        stored = await records.find({"events": {"$exists": True}}).to_list(None)
        published = [event["data"] for record in stored for event in record["events"]]
        assert published == [{"key": "t1", "run": 1 if landed else 2}]
        assert len(runs) == (1 if landed else 2)
