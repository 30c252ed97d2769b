"""Client-CPU benchmarks: raw PyMongo async, sync MongoEngine, the async engine, the
repository layer; plus a concurrency speedup and bridge micro-benchmarks.

Run with ``python -m benchmarks.layers`` (starts the embedded server in its own process
unless ``MONGODB_URI`` is set).  Every workload runs in this one process against one
server; each repetition runs the four variants one after the other (so drift hits all
of them alike) and the table reports the median client CPU (``time.process_time``) per
operation, the ratios engine/sync, engine/raw and repository/engine, and whether the
issue's targets hold.  The table is written to
``benchmarks/LAYERS.md``; the peer comparison (Beanie, ODMantic) is
:mod:`benchmarks.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import greenlet
import mongoengine
import pymongo
from mongoengine import connect, disconnect
from pymongo import AsyncMongoClient

import persistence  # noqa: F401  (activates the async API)
from adapters.mongo import MongoUnitOfWork
from persistence.engine import await_only, connect_async, disconnect_async, greenlet_spawn
from persistence.models import registry
from persistence.testing import async_fail_point, server_uri_from_env_or_start

from .models import AsyncPerson, SyncPerson
from .protocol import without_retryable_writes
from .workloads import WORKLOADS, Bench, Workload

RESULTS = Path(__file__).with_name("LAYERS.md")
VARIANTS = ("raw", "sync", "engine", "repository")
LOOSE, STRICT = 1.10, 1.00  # engine/sync targets; STRICT for iteration and bulk insert


@dataclass
class Row:
    """One workload's medians, in microseconds of client CPU per operation."""

    name: str
    unit: str
    samples: dict[str, list[float]] = field(default_factory=dict)

    def median(self, variant: str) -> float | None:
        values = self.samples.get(variant)
        return statistics.median(values) if values else None


async def _timed(fn: Callable[[], Awaitable[Any]] | Callable[[], Any], ops: int) -> float:
    gc.collect()
    start = time.process_time()
    result = fn()
    if asyncio.iscoroutine(result):
        await result
    return (time.process_time() - start) / ops * 1e6


async def measure(workload: Workload, bench: Bench, reps: int) -> Row:
    row = Row(workload.name, workload.unit)
    await workload.prepare(bench)
    for rep in range(reps + 1):  # the first repetition warms every path up
        for variant in VARIANTS:
            await workload.reset(bench)
            if variant == "repository":
                async with MongoUnitOfWork(registry) as uow:
                    bench.uow = uow
                    cpu = await _timed(lambda: workload.repository(bench), workload.ops)
                    await uow.commit()
                bench.uow = None
            else:
                cpu = await _timed(lambda v=variant: getattr(workload, v)(bench), workload.ops)
            if rep:
                row.samples.setdefault(variant, []).append(cpu)
    return row


async def concurrency(bench: Bench, client: Any, calls: int = 50) -> dict[str, float]:
    """Wall-clock: ``calls`` gathered ``async_get`` vs as many sequential sync ``get``,
    with 20 ms of server latency injected on every ``find``."""
    emails = [f"k{i}@example.com" for i in range(calls)]
    await asyncio.gather(*(AsyncPerson.objects.async_get(email=e) for e in emails))  # pool
    data = {"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 20}
    async with async_fail_point(client, data=data):
        start = time.perf_counter()
        for i in range(calls):
            SyncPerson.objects.get(email=f"k{i}@example.com")
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(
            *(AsyncPerson.objects.async_get(email=f"k{i}@example.com") for i in range(calls))
        )
        gathered = time.perf_counter() - start
    return {"sequential": sequential, "gathered": gathered, "speedup": sequential / gathered}


async def bridge_micro(n: int = 20_000) -> dict[str, float]:
    """Microseconds of ``greenlet_spawn`` around a no-op, and of one ``await_only``."""

    async def ready() -> None:
        return None

    start = time.process_time()
    for _ in range(n):
        await greenlet_spawn(lambda: None)
    spawn = (time.process_time() - start) / n * 1e6
    start = time.process_time()
    for _ in range(n):
        await greenlet_spawn(lambda: await_only(ready()))
    with_await = (time.process_time() - start) / n * 1e6
    start = time.process_time()
    for _ in range(n):
        await ready()
    plain = (time.process_time() - start) / n * 1e6
    return {"spawn": spawn, "await_only": with_await - spawn - plain}


async def run(uri: str, reps: int, only: str | None) -> dict[str, Any]:
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    connect(db_name, alias="bench_sync", host=uri)
    client = await connect_async(db_name, alias="default", host=uri)
    raw_client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    bench = Bench(raw=raw_client[db_name], sync=SyncPerson._get_db())
    try:
        for document in registry.documents:
            await document.async_ensure_indexes()
        SyncPerson.ensure_indexes()
        await AsyncPerson.async_ensure_indexes()
        await bench.raw["people_raw"].create_index("email", unique=True)
        rows = []
        for workload in WORKLOADS:
            if only and only not in workload.name:
                continue
            rows.append(await measure(workload, bench, reps))
            print(f"  measured {workload.name}", flush=True)
        speed = await concurrency(bench, client)
        micro = await bridge_micro()
        return {"rows": rows, "concurrency": speed, "micro": micro}
    finally:
        await raw_client.drop_database(db_name)
        await raw_client.close()
        await disconnect_async("default")
        disconnect("bench_sync")


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}"


def _target(row: Row) -> tuple[float, str]:
    strict = row.name.startswith(("iterate", "async_insert"))
    return (STRICT if strict else LOOSE), ("≤ 1.00" if strict else "≤ 1.10")


def table(rows: list[Row]) -> str:
    lines = [
        "| workload | per | raw async µs | sync ME µs | engine µs | repository µs "
        "| engine/sync | target | engine/raw | repository/engine | raw async/sync ME |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        raw, sync, engine, repo = (r.median(v) for v in VARIANTS)
        limit, label = _target(r)
        ok = engine is not None and sync is not None and engine / sync <= limit
        repo_ok = repo is not None and engine is not None and repo / engine <= LOOSE
        lines.append(
            f"| {r.name} | {r.unit} | {_fmt(raw)} | {_fmt(sync)} | {_fmt(engine)} | "
            f"{_fmt(repo)} | {_ratio(engine, sync)} | {label} {'✅' if ok else '❌'} | "
            f"{_ratio(engine, raw)} | {_ratio(repo, engine)} {'✅' if repo_ok else '❌'} | "
            f"{_ratio(raw, sync)} |"
        )
    return "\n".join(lines)


def report(result: dict[str, Any], uri: str, embedded: bool, reps: int) -> str:
    speed, micro = result["concurrency"], result["micro"]
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Client CPU (`time.process_time`) per operation, median of "
            f"{reps} repetitions (after one warm-up), one process, one server in its own "
            "process. `repository` runs inside an open unit of work (one transaction per "
            "repetition) and returns entities.",
            "",
            f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
            f"Python {platform.python_version()}",
            f"- pymongo {pymongo.version}, mongoengine {mongoengine.get_version()}, "
            f"greenlet {greenlet.__version__}",
            f"- server: {'embedded SecantusDB' if embedded else uri}",
            f"- run at {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "",
            table(result["rows"]),
            "",
            "Concurrency (wall clock, 20 ms injected per `find` with a `failCommand` "
            "fail point, `blockConnection`):",
            "",
            f"- 50 sequential sync `get`: {speed['sequential'] * 1000:,.0f} ms",
            f"- 50 gathered `async_get`: {speed['gathered'] * 1000:,.0f} ms",
            f"- speedup: **{speed['speedup']:.1f}x** (target ≥ 15x "
            f"{'✅' if speed['speedup'] >= 15 else '❌'})",
            "",
            "Bridge micro-benchmarks (client CPU):",
            "",
            f"- `greenlet_spawn` around a no-op: {micro['spawn']:.2f} µs",
            f"- one `await_only` (of a ready coroutine): {micro['await_only']:.2f} µs",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="repetitions per workload")
    parser.add_argument("--only", help="run only workloads whose name contains this")
    parser.add_argument("--no-write", action="store_true", help="do not write LAYERS.md")
    args = parser.parse_args()
    uri, server = server_uri_from_env_or_start()
    uri = without_retryable_writes(uri)  # see docs/server-gaps.md
    try:
        result = asyncio.run(run(uri, args.reps, args.only))
    finally:
        if server is not None:
            server.stop()
    text = report(result, uri, server is not None, args.reps)
    print(text)
    if not args.no_write and not args.only:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
