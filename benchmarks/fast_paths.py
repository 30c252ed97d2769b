"""Does each fast path pay?  Each one measured on and off in one process, interleaved.

``python -m benchmarks.fast_paths`` runs every workload of the peer benchmark (and the
repository workloads that use the repository's own shortcuts) with one fast path at a
time switched off (MongoEngine's own code runs instead, as the fast path itself does
when it declines), alternating on/off blocks so a change in the machine's load hits
both alike; each block's client CPU per operation is recorded (``time.thread_time`` of
the event loop's thread: PyMongo's monitor threads left out).
On a busy machine the fastest block of each side is the best estimate of its cost
(interference only adds): the table gives those minima, their ratio and difference (the
cost of switching the fast path off), and the median of the paired blocks' ``off / on``
ratios with its quartiles.  ``--reps`` blocks per
side (default 25), ``--fast-paths`` / ``--workloads`` to select, ``--out`` to write the
table as Markdown.  Uses ``MONGODB_URI`` or starts the embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import persistence.engine  # noqa: F401
from persistence.engine import connect_async, disconnect_async

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).parent / "contestants")]

from mongoengine_documents import people_documents  # noqa: E402
from protocol import COUNT_FILTER_AGE, person  # noqa: E402

# -- switching one fast path off ----------------------------------------------------------


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    had = name in vars(owner)
    old = vars(owner).get(name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if had:
            setattr(owner, name, old)
        else:
            delattr(owner, name)


@contextlib.contextmanager
def _off(fast_path: str) -> Iterator[None]:
    """MongoEngine's own code instead of ``fast_path`` for the block."""
    from mongoengine.document import Document
    from mongoengine.queryset.base import BaseQuerySet

    from persistence import mapping
    from persistence.engine import from_stored, raw_finds, to_stored
    from persistence.engine.twin_factories import instance_twin, queryset_twin

    if fast_path == "from_stored":
        plain = from_stored.from_son

        def own(cls: Any, son: Any, auto: bool = True, created: bool = False) -> Any:
            return from_stored._fallback(cls, son, auto, created)

        with _patched(from_stored, "from_son", own):
            yield
        assert from_stored.from_son is plain
    elif fast_path == "to_stored":
        with _patched(to_stored, "_dump", to_stored._reference_dump):
            yield
    elif fast_path == "queryset copies":
        with _patched(BaseQuerySet, "_clone_into", BaseQuerySet._clone_into.__wrapped__):
            yield
    elif fast_path == "native save":
        with _patched(Document, "async_save", instance_twin("save", "async_save")):
            yield
    elif fast_path == "native update_one":
        twin = queryset_twin("update_one", "async_update_one")
        with _patched(BaseQuerySet, "async_update_one", twin):
            yield
    elif fast_path in ("native get", "native count"):
        name = fast_path.split()[1]
        with _patched(BaseQuerySet, f"async_{name}", queryset_twin(name, f"async_{name}")):
            yield
    elif fast_path == "raw finds":
        with _patched(raw_finds, "raw_queryset", raw_finds._chained):
            yield
    elif fast_path == "direct entity reads":
        with _patched(mapping, "direct_values", lambda plan, son: None):
            yield
    else:
        raise ValueError(fast_path)


# -- workloads -------------------------------------------------------------------------------

Workload = Callable[[Any], Awaitable[int]]  # returns how many operations it ran


class Engine:
    """The peer benchmark's engine workloads (benchmarks/contestants/engine.py), sized
    for quick blocks."""

    def __init__(self) -> None:
        self.round = 0

    async def setup(self, prefix: str) -> None:
        self.People, self.Big, self.Bulk = people_documents(prefix)
        await self.People.async_ensure_indexes()
        await self.People.objects.async_insert(
            [self.People(**person(i)) for i in range(300)], load_bulk=False
        )
        await self.Big.objects.async_insert(
            [self.Big(**person(i, "big")) for i in range(2000)], load_bulk=False
        )

    async def insert_one(self) -> int:
        self.round += 1
        for i in range(50):
            await self.People(**person(i, f"r{self.round}-")).async_save()
        return 50

    async def get_one(self) -> int:
        for i in range(50):
            await self.People.objects.async_get(name=f"p{i}")
        return 50

    async def update_inc(self) -> int:
        for i in range(50):
            await self.People.objects(name=f"p{i}").async_update_one(inc__age=1)
        return 50

    async def count(self) -> int:
        for _ in range(50):
            await self.People.objects(age__gte=COUNT_FILTER_AGE).async_count()
        return 50

    async def iterate(self) -> int:
        return len([d async for d in self.Big.objects])

    async def bulk_insert(self) -> int:
        docs = [self.Bulk(**person(i, "b")) for i in range(1000)]
        await self.Bulk.objects.async_insert(docs, load_bulk=False)
        await self.Bulk.objects.async_delete()
        return 1000


class Repository:
    """The repository workloads that use the repository's own shortcuts."""

    async def setup(self, prefix: str) -> None:
        from benchmarks.layer_workloads import MEMBERS, Member, member_fields

        self.Member, self.fields, self.registry = Member, member_fields, MEMBERS
        from persistence.mongo import MongoUnitOfWork

        self.uow = lambda: MongoUnitOfWork(MEMBERS, transactions=False)
        async with self.uow() as uow:
            added = await uow.repo(Member).add_many(
                [Member(**member_fields(i)) for i in range(300)]
            )
            await uow.commit()
        self.ids = [m.id for m in added]
        self.round = 0

    async def get_by_id(self) -> int:
        async with self.uow() as uow:
            repo = uow.repo(self.Member)
            for entity_id in self.ids[:50]:
                await repo.get(entity_id)
        return 50

    async def find_page(self) -> int:
        from persistence.specs import F, Order, Page

        async with self.uow() as uow:
            repo = uow.repo(self.Member)
            for i in range(10):
                await repo.find(F("age") >= i, order=Order.by("age"), page=Page(limit=20))
        return 10

    async def add(self) -> int:
        self.round += 1
        async with self.uow() as uow:
            repo = uow.repo(self.Member)
            for i in range(30):
                await repo.add(self.Member(**self.fields(i, f"a{self.round}-")))
            await uow.commit()
        return 30

    async def add_many(self) -> int:
        self.round += 1
        async with self.uow() as uow:
            members = [self.Member(**self.fields(i, f"m{self.round}-")) for i in range(200)]
            await uow.repo(self.Member).add_many(members)
            await uow.commit()
        return 200


# fast path -> the workloads it serves (engine workloads on ``Engine``, the rest on
# ``Repository``)
PLAN: dict[str, tuple[str, ...]] = {
    "from_stored": ("iterate", "get_one"),
    "to_stored": ("bulk_insert", "insert_one"),
    "queryset copies": ("count", "update_inc"),
    "native save": ("insert_one",),
    "native update_one": ("update_inc",),
    "native get": ("get_one",),
    "native count": ("count",),
    "raw finds": ("get_by_id", "find_page"),
    "direct entity reads": ("get_by_id", "find_page", "add", "add_many"),
}


async def _block(run: Callable[[], Awaitable[int]]) -> float:
    gc.collect()
    cpu = time.thread_time()  # the event loop's thread: PyMongo's monitors left out
    done = await run()
    return (time.thread_time() - cpu) / done * 1e6


async def measure(reps: int, only: set[str] | None, workloads: set[str] | None) -> list[Any]:
    engine, repository = Engine(), Repository()
    prefix = f"fp{uuid.uuid4().hex[:6]}"
    await engine.setup(prefix)
    await repository.setup(prefix)
    rows = []
    for fast_path, names in PLAN.items():
        if only and fast_path not in only:
            continue
        for name in names:
            if workloads and name not in workloads:
                continue
            target = engine if hasattr(engine, name) else repository
            run = getattr(target, name)
            await run()  # warm-up, both ways
            with _off(fast_path):
                await run()
            on: list[float] = []
            off: list[float] = []
            for rep in range(reps):
                order = (True, False) if rep % 2 == 0 else (False, True)
                for enabled in order:
                    if enabled:
                        on.append(await _block(run))
                    else:
                        with _off(fast_path):
                            off.append(await _block(run))
            ratios = sorted(b / a for a, b in zip(on, off, strict=True))
            rows.append(
                (fast_path, name, min(on), min(off), min(off) / min(on),
                 statistics.median(ratios), ratios[len(ratios) // 4],
                 ratios[-1 - len(ratios) // 4])
            )  # fmt: skip
            print(_line(rows[-1]), flush=True)
    return rows


def _line(row: Any) -> str:
    fast_path, name, on, off, best, ratio, low, high = row
    return (
        f"| {fast_path} | {name} | {on:,.1f} | {off:,.1f} | {best:.2f} | {off - on:+,.1f} "
        f"| {ratio:.2f} ({low:.2f}-{high:.2f}) |"
    )


HEADER = (
    "| fast path | workload | on µs/op | off µs/op | off / on | cost of off µs/op "
    "| paired blocks: median off / on (quartiles) |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
)


async def main(argv: list[str] | None = None) -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--fast-paths", nargs="*")
    parser.add_argument("--workloads", nargs="*")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    server = None
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        from persistence.testing.embedded_server import EmbeddedServer

        server = EmbeddedServer().start()
        uri = server.uri
    db = f"fast_paths_{uuid.uuid4().hex[:8]}"
    client = await connect_async(db, host=uri, retryWrites=False)
    try:
        print(HEADER, flush=True)
        rows = await measure(
            args.reps, set(args.fast_paths or ()) or None, set(args.workloads or ()) or None
        )
    finally:
        await client.drop_database(db)
        await disconnect_async()
        if server is not None:
            server.stop()
    if args.out:
        with open(args.out, "w") as out:
            out.write(HEADER + "\n" + "\n".join(_line(row) for row in rows) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
