"""Client-CPU benchmarks: raw PyMongo async, sync MongoEngine, the async engine, the repository.

Run with ``python -m benchmarks.run`` (starts the embedded server unless ``MONGODB_URI``
is set).  Every workload is measured in one process against one server, several
repetitions each; the table reports the median client CPU (``time.process_time``) per
operation and the ratios engine/sync, engine/raw and repository/engine, and is written
to ``benchmarks/RESULTS.md``.
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

import mongoengine
import pymongo
from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    StringField,
    connect,
    disconnect,
)
from pymongo import AsyncMongoClient

import persistence  # noqa: F401  (activates the async API)
from adapters.mongo import MongoUnitOfWork
from domain.entities import User
from persistence.engine import connect_async, disconnect_async
from persistence.models import UserDocument
from persistence.testing import server_uri_from_env_or_start

RESULTS = Path(__file__).with_name("RESULTS.md")


class SyncItem(Document):
    name = StringField()
    n = IntField()
    meta = {"db_alias": "bench_sync", "collection": "items_sync"}


class AsyncItem(Document):
    name = StringField()
    n = IntField()
    meta = {"db_alias": "default", "collection": "items_async"}


class Spec(EmbeddedDocument):
    colour = StringField()
    weight = FloatField()


def _wide_fields() -> dict[str, Any]:
    return {
        "name": StringField(),
        "n": IntField(),
        "price": FloatField(),
        "active": BooleanField(),
        "created": DateTimeField(),
        "category": StringField(),
        "code": StringField(),
        "rank": IntField(),
        "spec": EmbeddedDocumentField(Spec),
        "tags": ListField(StringField()),
    }


SyncWide = type(
    "SyncWide",
    (Document,),
    {**_wide_fields(), "meta": {"db_alias": "bench_sync", "collection": "wide"}},
)
AsyncWide = type("AsyncWide", (Document,), {**_wide_fields(), "meta": {"collection": "wide"}})


def _wide_doc(i: int) -> dict[str, Any]:
    import datetime

    return {
        "name": f"item{i}",
        "n": i,
        "price": i * 0.5,
        "active": i % 2 == 0,
        "created": datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=i),
        "category": f"c{i % 7}",
        "code": f"{i:08d}",
        "rank": i % 100,
        "spec": {"colour": "red", "weight": 1.5},
        "tags": ["a", "b", f"t{i % 3}"],
    }


@dataclass
class Row:
    """One workload's medians in microseconds of client CPU per operation."""

    name: str
    raw: float | None = None
    sync: float | None = None
    engine: float | None = None
    repository: float | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)


def _median_cpu(samples: list[float]) -> float:
    return statistics.median(samples)


async def _measure_async(fn: Callable[[int], Awaitable[Any]], ops: int) -> float:
    start = time.process_time()
    for i in range(ops):
        await fn(i)
    return (time.process_time() - start) / ops * 1e6


def _measure_sync(fn: Callable[[int], Any], ops: int) -> float:
    start = time.process_time()
    for i in range(ops):
        fn(i)
    return (time.process_time() - start) / ops * 1e6


async def bench_save_new(row: Row, raw_db: Any, ops: int, reps: int) -> None:
    raw = raw_db["items_raw"]
    for _ in range(reps):
        row.samples.setdefault("raw", []).append(
            await _measure_async(lambda i: raw.insert_one({"name": "x", "n": i}), ops)
        )
        row.samples.setdefault("sync", []).append(
            _measure_sync(lambda i: SyncItem(name="x", n=i).save(), ops)
        )
        row.samples.setdefault("engine", []).append(
            await _measure_async(lambda i: AsyncItem(name="x", n=i).async_save(), ops)
        )

        async def add_user(i: int) -> None:
            async with MongoUnitOfWork() as uow:
                await uow.users.add(User(name="x", email=f"u{uuid.uuid4().hex}@example.com"))
                await uow.commit()

        row.samples.setdefault("repository", []).append(await _measure_async(add_user, ops))


async def bench_iterate(row: Row, raw_db: Any, docs: int, reps: int) -> None:
    """Per-document CPU of reading ``docs`` documents of ten fields."""
    await raw_db["wide"].insert_many([_wide_doc(i) for i in range(docs)])
    raw = raw_db["wide"]

    async def raw_list() -> None:
        await raw.find().to_list()

    async def engine_list() -> None:
        [d async for d in AsyncWide.objects]

    await raw_list()  # warm up every path once
    list(SyncWide.objects)
    await engine_list()
    for _ in range(reps):
        gc.collect()
        start = time.process_time()
        await raw_list()
        row.samples.setdefault("raw", []).append((time.process_time() - start) / docs * 1e6)
        gc.collect()
        start = time.process_time()
        list(SyncWide.objects)
        row.samples.setdefault("sync", []).append((time.process_time() - start) / docs * 1e6)
        gc.collect()
        start = time.process_time()
        await engine_list()
        row.samples.setdefault("engine", []).append((time.process_time() - start) / docs * 1e6)


async def run(uri: str, ops: int, reps: int) -> list[Row]:
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    connect(db_name, alias="bench_sync", host=uri)
    await connect_async(db_name, alias="default", host=uri)
    raw_client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    raw_db = raw_client[db_name]
    try:
        # Warm up every path once (connections, index creation).
        await raw_db["items_raw"].insert_one({"warm": True})
        SyncItem(name="warm").save()
        await AsyncItem(name="warm").async_save()
        await UserDocument.async_ensure_indexes()
        rows = []
        row = Row("save (new document)")
        await bench_save_new(row, raw_db, ops, reps)
        rows.append(row)
        row = Row("iterate (per document, 5,000 docs)")
        await bench_iterate(row, raw_db, 5000, reps)
        rows.append(row)
        for row in rows:
            for key, samples in row.samples.items():
                setattr(row, key, _median_cpu(samples))
        return rows
    finally:
        await raw_client.drop_database(db_name)
        await raw_client.close()
        await disconnect_async("default")
        disconnect("bench_sync")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| workload | raw async µs | sync ME µs | engine µs | repository µs "
        "| engine/sync | engine/raw | repository/engine |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {_fmt(r.raw)} | {_fmt(r.sync)} | {_fmt(r.engine)} | "
            f"{_fmt(r.repository)} | {_ratio(r.engine, r.sync)} | {_ratio(r.engine, r.raw)} | "
            f"{_ratio(r.repository, r.engine)} |"
        )
    return "\n".join(lines)


def report(rows: list[Row], uri: str, embedded: bool, ops: int, reps: int) -> str:
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Client CPU (`time.process_time`) per operation, median of "
            f"{reps} repetitions of {ops} operations, one process, one server.",
            "",
            f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
            f"Python {platform.python_version()}",
            f"- pymongo {pymongo.version}, mongoengine {mongoengine.get_version()}",
            f"- server: {'embedded SecantusDB' if embedded else uri}",
            f"- run at {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "",
            table(rows),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=300, help="operations per repetition")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per workload")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    uri, server = server_uri_from_env_or_start()
    try:
        rows = asyncio.run(run(uri, args.ops, args.reps))
    finally:
        if server is not None:
            server.stop()
    text = report(rows, uri, server is not None, args.ops, args.reps)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
