"""The outbox's cost: commit-to-handler latency and events per second (issue 24).

``python -m benchmarks.outbox [--events N] [--out benchmarks/OUTBOX.md]`` on the
embedded server (or ``MONGODB_URI``) and on the memory adapter:

* **latency**: one writer commits a block publishing one event, then waits until the
  consumer's handler has it; the time from calling ``commit()`` (the commit's own round
  trip included) to the handler starting, p50 / p99 over ``--events`` events;
* **throughput**: ``--writers`` writers commit ``--events`` events as fast as they can
  while one consumer acknowledges them (a plain handler, then through ``handle_once``
  writing one document per event); events per second from the first commit to the last
  event handled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from mongoengine import Document, IntField

import persistence  # noqa: F401
from persistence.engine import connect_async, disconnect_async
from persistence.ids import new_id
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import Delivery, Outbox, domain_event, handle_once
from persistence.outbox.memory import MemoryOutbox
from persistence.outbox.mongo import MongoOutbox
from persistence.registry import Registry
from persistence.testing import server_uri_from_env_or_start


@attrs.define(kw_only=True)
class Hit:
    id: str = attrs.field(factory=new_id)
    n: int


class HitDocument(Document):
    n = IntField(required=True)
    meta = {"collection": "bench_outbox_hits"}


registry = Registry()
registry.add(Hit, HitDocument)


@domain_event("bench.ticked", key="key")
@attrs.frozen
class Ticked:
    key: str
    n: int


@attrs.frozen
class Result:
    backend: str
    p50_ms: float
    p99_ms: float
    plain_per_s: float
    once_per_s: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _latency(uow: Any, outbox: Outbox, events: int, consumer: str) -> list[float]:
    seen: dict[int, float] = {}
    arrived = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        seen[delivery.event.n] = time.perf_counter()
        arrived.set()

    running = asyncio.create_task(outbox.run(consumer, handler))
    latencies = []
    try:
        for n in range(events + 1):  # the first one warms the consumer up
            arrived.clear()

            async with uow:
                uow.publish(Ticked("k", n))
                committing = time.perf_counter()
                await uow.commit()
            await asyncio.wait_for(arrived.wait(), 60)
            if n:
                latencies.append((seen[n] - committing) * 1000)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return latencies


async def _throughput(
    uow: Any, outbox: Outbox, events: int, writers: int, consumer: str,
    handler_for: Callable[[asyncio.Event, list[int]], Callable[[Delivery], Awaitable[None]]],
) -> float:
    done = asyncio.Event()
    count = [0]
    running = asyncio.create_task(outbox.run(consumer, handler_for(done, count)))
    began = time.perf_counter()

    async def writer(w: int) -> None:
        for n in range(events // writers):

            async def publish(uow: Any, n: int = n) -> None:
                uow.publish(Ticked(f"w{w}", n))

            await uow.run(publish)

    try:
        await asyncio.gather(*(writer(w) for w in range(writers)))
        await asyncio.wait_for(done.wait(), 300)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return (events // writers * writers) / (time.perf_counter() - began)


async def measure(backend: str, uow: Any, outbox: Outbox, events: int, writers: int) -> Result:
    """One backend's numbers (events already in the outbox are consumed first)."""
    total = events // writers * writers
    latencies = await _latency(uow, outbox, events, f"latency-{uuid.uuid4().hex[:6]}")

    def plain(done: asyncio.Event, count: list[int]) -> Callable[[Delivery], Awaitable[None]]:
        async def handler(delivery: Delivery) -> None:
            if delivery.key != "k":
                count[0] += 1
                if count[0] == total:
                    done.set()

        return handler

    def once(done: asyncio.Event, count: list[int]) -> Callable[[Delivery], Awaitable[None]]:
        async def handler(delivery: Delivery) -> None:
            if delivery.key == "k":
                return

            async def work(uow: Any) -> None:
                await uow.repo(Hit).add(Hit(n=delivery.event.n))

            await handle_once(uow, delivery, work)
            count[0] += 1
            if count[0] == total:
                done.set()

        return handler

    plain_rate = await _throughput(uow, outbox, events, writers, "plain", plain)
    # the same events again for a consumer that starts behind (catch-up, then the stream)
    once_rate = await _throughput(uow, outbox, events, writers, "once", once)
    return Result(
        backend,
        statistics.median(latencies),
        _percentile(latencies, 0.99),
        plain_rate,
        once_rate,
    )


HEADER = (
    "| backend | commit-to-handler p50 ms | p99 ms | events/s (ack only) "
    "| events/s (handle_once) |\n| --- | ---: | ---: | ---: | ---: |"
)


def line(result: Result) -> str:
    return (
        f"| {result.backend} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
        f"| {result.plain_per_s:.0f} | {result.once_per_s:.0f} |"
    )


async def run(uri: str, events: int, writers: int) -> list[Result]:
    """Both backends' numbers."""
    store = InMemoryStore()
    memory = await measure(
        "memory", InMemoryUnitOfWork(registry, store), MemoryOutbox(store), events, writers
    )
    db = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    client = await connect_async(db, host=uri)
    try:
        outbox = MongoOutbox()
        await outbox.ensure_indexes()
        server = await measure("server (change streams)", MongoUnitOfWork(registry), outbox,
                               events, writers)
    finally:
        await client.drop_database(db)
        await disconnect_async()
    return [memory, server]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    uri, server = server_uri_from_env_or_start()
    try:
        results = await run(uri, args.events, args.writers)
    finally:
        if server is not None:
            server.stop()
    text = "\n".join([HEADER, *(line(r) for r in results)])
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(
                "# Outbox: commit-to-handler latency and throughput\n\n"
                f"`python -m benchmarks.outbox --events {args.events} --writers "
                f"{args.writers}` ({'MONGODB_URI' if server is None else 'embedded server'}, "
                f"Python {platform.python_version()}, {os.cpu_count()} cores, shared "
                "machine).  Latency: from calling `commit()` to the handler starting, one "
                "event at a time.  Throughput: writers and one consumer in one process.\n\n"
                + text + "\n"
            )


if __name__ == "__main__":
    asyncio.run(main())
