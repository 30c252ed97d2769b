"""A consumer that dies inside an acknowledgement, between the record's ``done`` mark and
its resume token, while ``prune`` runs: the record (finished by every consumer) and its
processed marks go, and the restarted consumer's stream, resuming from the older token,
shows the record again: ``handle_once`` must still not apply its effect twice."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest

from adapters.registry import registry
from domain.entities import Account
from eventually import HANG_S, until_found
from persistence.engine import get_async_db
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import Delivery, domain_event, handle_once
from persistence.outbox.mongo import CONSUMERS, MongoOutbox


@domain_event("prune_race.credited", key="account")
@attrs.frozen
class Credited:
    account: str
    amount: int


class Crash(Exception):
    """The consumer process dies here."""


async def test_a_record_pruned_after_a_crash_inside_its_acknowledgement_takes_effect_once(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = MongoUnitOfWork(registry)
    outbox = MongoOutbox()
    account = Account(owner="ann")
    await uow.run(lambda uow: uow.repo(Account).add(account))

    async def credit(amount: int) -> None:
        async def block(uow: Any) -> None:
            uow.publish(Credited(account.id, amount))

        await uow.run(block)

    async def apply(delivery: Delivery) -> None:
        async def work(uow: Any) -> None:
            stored = await uow.repo(Account).get(account.id)
            stored.balance += delivery.event.amount
            await uow.repo(Account).save(stored)

        await handle_once(uow, delivery, work)

    async def consume(count: int) -> None:
        handled = 0
        async for delivery in outbox.consume("billing"):
            await apply(delivery)
            await delivery.ack()
            handled += 1
            if handled == count:
                return

    consumers = get_async_db("default")[CONSUMERS]

    async def following_the_stream() -> bool:
        stored = await consumers.find_one({"_id": "billing"})
        return stored is not None and stored["token"] is not None

    first = asyncio.create_task(consume(1))
    await until_found(following_the_stream, "the consumer caught up and follows the stream")
    await credit(1)
    await asyncio.wait_for(first, HANG_S)  # the stored token: the stream's, after 1
    await credit(10)
    feed = outbox.feed
    save_token = feed._save_token  # type: ignore[attr-defined]

    async def crash(position: str, token: Any) -> None:
        raise Crash("the consumer dies after marking the record done")

    monkeypatch.setattr(feed, "_save_token", crash)
    with pytest.raises(Exception) as died:
        await asyncio.wait_for(consume(1), HANG_S)
    assert isinstance(died.value.__cause__ or died.value, Crash)
    monkeypatch.setattr(feed, "_save_token", save_token)
    assert await outbox.prune(0) == 2  # both records: finished by the only consumer
    await credit(100)
    await asyncio.wait_for(consume(1), HANG_S)
    async with uow.reading() as reader:
        assert (await reader.repo(Account).get(account.id)).balance == 111
