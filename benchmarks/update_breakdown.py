"""Where the client CPU of ``async_update_one`` goes (issue 21, point 6).

``python -m benchmarks.update_breakdown [--ops N] [--reps R] [--out FILE]`` on the
embedded server (or ``MONGODB_URI``).  One process, one server, the same people
collection; four ways to send the same ``update`` command (``{"name": "p<i>"}``,
``{"$inc": {"age": 1}}``: the run checks MongoEngine builds exactly these, and reads
back that every update landed), repetitions interleaved:

* ``raw``: PyMongo's ``AsyncCollection.update_one`` on a client of its own;
* ``engine collection``: the same call on the collection this project's engine uses
  (the client ``connect_async`` made: its options cost nothing measurable);
* ``MongoEngine's query building``: ``People.objects(name=...)``, its ``_query`` and
  ``transform.update(...)``, MongoEngine's own code, then that same call;
* ``async_update_one``: the public twin, which runs the above plus the engine's checks.

Client CPU (``time.process_time``) per operation, median over repetitions (their range).
The differences apportion the gap between this project and raw PyMongo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mongoengine import Document, IntField, StringField
from mongoengine.queryset import transform
from pymongo import AsyncMongoClient

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, disconnect_async
from persistence.engine.facades import unwrap
from persistence.testing import server_uri_from_env_or_start

ALIAS = "bench_update_breakdown"


class Person(Document):
    name = StringField()
    age = IntField()
    meta = {"db_alias": ALIAS, "collection": "people", "indexes": ["name"]}


async def run(uri: str, ops: int, reps: int) -> dict[str, list[float]]:
    await connect_async("bench_breakdown", alias=ALIAS, host=uri, retryWrites=False)
    raw_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, retryWrites=False)
    try:
        await Person.async_drop_collection()
        await Person.objects.async_insert([Person(name=f"p{i}", age=0) for i in range(ops)])
        raw = raw_client["bench_breakdown"]["people"]
        engine = unwrap(Person._get_collection())  # type: ignore[attr-defined]

        async def via_raw() -> None:
            for i in range(ops):
                await raw.update_one({"name": f"p{i}"}, {"$inc": {"age": 1}})

        async def via_engine_collection() -> None:
            for i in range(ops):
                await engine.update_one({"name": f"p{i}"}, {"$inc": {"age": 1}})

        async def via_mongoengine_building() -> None:
            for i in range(ops):
                queryset = Person.objects(name=f"p{i}")
                await engine.update_one(queryset._query, transform.update(Person, inc__age=1))

        async def via_twin() -> None:
            for i in range(ops):
                await Person.objects(name=f"p{i}").async_update_one(inc__age=1)

        ways: dict[str, Callable[[], Awaitable[None]]] = {
            "raw PyMongo async": via_raw,
            "the engine's collection, same call": via_engine_collection,
            "MongoEngine's query building, then that call": via_mongoengine_building,
            "`async_update_one` (the public twin)": via_twin,
        }
        assert Person.objects(name="p1")._query == {"name": "p1"}
        assert transform.update(Person, inc__age=1) == {"$inc": {"age": 1}}
        for way in ways.values():  # warm-up
            await way()
        seen: dict[str, list[float]] = {name: [] for name in ways}
        order = list(ways)
        for rep in range(reps):
            for name in order[rep % len(order) :] + order[: rep % len(order)]:
                started = time.process_time()
                await ways[name]()
                seen[name].append((time.process_time() - started) / ops * 1e6)
        stored = await raw.find({}, {"age": 1}).to_list(None)
        expected = (reps + 1) * len(ways)
        assert len(stored) == ops and all(d["age"] == expected for d in stored), "lost"
        return seen
    finally:
        await raw_client.close()
        await disconnect_async(ALIAS)


def table(seen: dict[str, list[float]]) -> str:
    lines = [
        "| way | client CPU µs per update | above the row before |",
        "| --- | ---: | ---: |",
    ]
    previous: float | None = None
    for name, values in seen.items():
        median = statistics.median(values)
        spread = f"{min(values):.0f}-{max(values):.0f}"
        step = "" if previous is None else f"{median - previous:+.0f}"
        lines.append(f"| {name} | {median:.0f} ({spread}) | {step} |")
        previous = median
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    uri, server = server_uri_from_env_or_start()
    try:
        seen = await run(uri, args.ops, args.reps)
    finally:
        if server is not None:
            server.stop()
    text = table(seen)
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(
                "# Where `async_update_one`'s client CPU goes\n\n"
                f"`python -m benchmarks.update_breakdown --ops {args.ops} --reps {args.reps}` "
                f"({'MONGODB_URI' if server is None else 'embedded server'}, Python "
                f"{platform.python_version()}, {os.cpu_count()} cores, load average "
                f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end).  The same "
                "`update` command four ways, repetitions interleaved; client CPU per "
                "update, the median over repetitions (their range).\n\n" + text + "\n"
            )


if __name__ == "__main__":
    asyncio.run(main())
