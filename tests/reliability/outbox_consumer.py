"""A consumer process of the outbox crash test: partition ``index`` of
``outbox_crash_model.PARTITIONS`` of the consumer ``effects``, applying each event once
through ``handle_once``.  Usage: ``python outbox_consumer.py PORT INDEX`` (runs until
killed)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from outbox_crash_model import (
    ALIAS,
    CONSUMER,
    DATABASE,
    PARTITIONS,
    Applied,
    Effect,
    crash_registry,
)

import persistence  # noqa: F401
from persistence.engine import connect_async, get_async_db
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import Delivery, handle_once
from persistence.outbox.mongo import MongoOutbox
from persistence.specs import F


async def main(port: int, index: int) -> None:
    await connect_async(
        DATABASE,
        alias=ALIAS,
        host=f"mongodb://127.0.0.1:{port}/?directConnection=true",
        heartbeatFrequencyMS=500,
        uuidRepresentation="standard",
    )
    uow = MongoUnitOfWork(crash_registry, alias=ALIAS)
    outbox = MongoOutbox(ALIAS)

    async def handler(delivery: Delivery) -> None:
        event = delivery.event

        async def apply(uow: Any) -> None:
            applied = uow.repo(Applied)
            mark = await applied.first(F("key") == event.key)
            last = 0 if mark is None else mark.last
            if mark is None:
                await applied.add(Applied(key=event.key, last=event.value))
            else:
                mark.last = event.value
                await applied.save(mark)
            await uow.repo(Effect).add(
                Effect(
                    event=delivery.id, key=event.key, value=event.value, tag=event.tag,
                    in_order=event.value == last + 1,
                )
            )

        if not await handle_once(uow, delivery, apply):
            await get_async_db(ALIAS)["oc_stats"].update_one(
                {"_id": "redelivered"}, {"$inc": {"n": 1}}, upsert=True
            )

    print("ready", flush=True)
    await outbox.run(CONSUMER, handler, partition=(index, PARTITIONS))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
