"""The outbox under crashes (issue 24, point 5): 20 writer tasks commit 2,000 events
(and blocks that publish, then roll back) while 3 consumer processes (the partitions of
one consumer) apply each event through ``handle_once``; the server and consumer
processes are killed with ``SIGKILL`` at random moments and started again.  Afterwards:
every committed event's effect is there (0 lost), none from a rolled-back block, each
key's effects were applied in commit order, none twice.

Each writer's block increments one of a few tallies and publishes ``Counted`` with the
new value, so whatever the outcome of a commit lost in a crash (landed or not, known or
not), the committed events of a key are exactly the values 1..final of its tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from outbox_crash_model import (
    ALIAS,
    DATABASE,
    PARTITIONS,
    Counted,
    Effect,
    Tally,
    crash_registry,
)

import persistence  # noqa: F401
from eventually import HANG_S
from persistence.engine import connect_async, disconnect_async, get_async_db
from persistence.errors import CommitOutcomeUnknown, StoreUnavailable
from persistence.mongo import MongoUnitOfWork
from persistence.testing import EmbeddedServer
from persistence.testing.bound_processes import spawn_bound

WRITERS = 20
EVENTS = 2_000
KEYS = 12
ROLLBACK_EVERY = 10  # a writer's every 10th block publishes, then fails
SERVER_KILLS = 2
CONSUMER_KILLS = 2
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class Consumers:
    """The consumer processes, one per partition, restartable."""

    def __init__(self, port: int, logs: Path) -> None:
        self.port = port
        self.logs = logs
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(self, index: int) -> None:
        path = os.pathsep.join([str(HERE), str(ROOT / "tests"), str(ROOT)])
        env = {**os.environ, "PYTHONPATH": path}
        log = open(self.logs / f"consumer-{index}-{self.started}.log", "wb")
        self.started += 1
        self.processes[index] = spawn_bound(
            [sys.executable, str(HERE / "outbox_consumer.py"), str(self.port), str(index)],
            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, index: int) -> None:
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()


@contextlib.asynccontextmanager
async def _setup() -> AsyncIterator[tuple[EmbeddedServer, Consumers, Path]]:
    with tempfile.TemporaryDirectory(prefix="outbox-crash-") as work:
        storage = Path(work) / "data"
        server = EmbeddedServer(storage_path=storage)
        server.start()
        consumers = Consumers(server.port, Path(work))
        try:
            yield server, consumers, Path(work)
        finally:
            consumers.stop()
            await disconnect_async(ALIAS)
            server.stop()


async def _writer(
    uow: MongoUnitOfWork, number: int, tallies: list[Tally], quota: int, rng: random.Random,
    record: dict[str, Any],
) -> None:
    blocks = 0
    while record["committed_or_unknown"] < EVENTS:
        blocks += 1
        tally = rng.choice(tallies)
        tag = f"{number}-{blocks}-{uuid.uuid4().hex[:8]}"
        rolls_back = blocks % ROLLBACK_EVERY == 0

        async def block(
            uow: Any, tally: Tally = tally, tag: str = tag, fail: bool = rolls_back
        ) -> None:
            stored = await uow.repo(Tally).get(tally.id)
            stored.value += 1
            await uow.repo(Tally).save(stored)
            uow.publish(Counted(tally.id, -1 if fail else stored.value, tag))
            if fail:
                raise _RolledBack

        try:
            await uow.run(block)
        except _RolledBack:
            record["rolled_back"].add(tag)
            continue
        except CommitOutcomeUnknown:
            record["unknown"] += 1
        except StoreUnavailable:  # nothing applied (retry-safe) or the budget was spent
            record["not_applied"] += 1
            continue
        record["committed_or_unknown"] += 1


class _RolledBack(Exception):
    pass


async def _read(uow: MongoUnitOfWork) -> tuple[list[Tally], list[Effect]]:
    async with uow.reading() as reader:
        return await reader.repo(Tally).find(), await reader.repo(Effect).find()


async def test_outbox_loses_invents_reorders_and_doubles_nothing_under_kill_9() -> None:
    rng = random.Random()
    began = time.monotonic()
    async with _setup() as (server, consumers, _work):
        await connect_async(
            DATABASE, alias=ALIAS, host=server.uri, heartbeatFrequencyMS=500,
            uuidRepresentation="standard",
        )
        uow = MongoUnitOfWork(crash_registry, alias=ALIAS)
        tallies = [Tally(name=f"k{n}") for n in range(KEYS)]

        async def open_tallies(uow: Any) -> None:
            await uow.repo(Tally).add_many(tallies)

        await uow.run(open_tallies)
        for index in range(PARTITIONS):
            consumers.start(index)
        record: dict[str, Any] = {
            "committed_or_unknown": 0, "rolled_back": set(), "unknown": 0, "not_applied": 0,
        }
        writers = [
            asyncio.create_task(_writer(uow, n, tallies, EVENTS // WRITERS, rng, record))
            for n in range(WRITERS)
        ]
        kills = ["server"] * SERVER_KILLS + ["consumer"] * CONSUMER_KILLS
        rng.shuffle(kills)
        for number, what in enumerate(kills):
            # a random moment within the next stretch of the writing
            target = (number + rng.uniform(0.3, 0.9)) * EVENTS / (len(kills) + 1)
            give_up = time.monotonic() + HANG_S
            while record["committed_or_unknown"] < target:
                assert time.monotonic() < give_up, "the writers stopped committing"
                assert not any(w.done() and w.exception() for w in writers)
                await asyncio.sleep(0.005)
            if what == "server":
                server.kill()
                await asyncio.to_thread(server.start)
            else:
                index = rng.randrange(PARTITIONS)
                consumers.kill(index)
                consumers.start(index)
        await asyncio.wait_for(asyncio.gather(*writers), HANG_S)
        writing = time.monotonic() - began

        tallies_now, effects = await _read(uow)
        committed = sum(t.value for t in tallies_now)
        applied_before, give_up = -1, 0.0
        while len({e.event for e in effects}) < committed:  # fails only when it stalls
            if len(effects) != applied_before:
                applied_before, give_up = len(effects), time.monotonic() + HANG_S
            assert time.monotonic() < give_up, "the consumers stopped applying events"
            await asyncio.sleep(0.5)
            _, effects = await _read(uow)
        consumers.stop()
        tallies_now, effects = await _read(uow)
        stats = await get_async_db(ALIAS)["oc_stats"].find_one({"_id": "redelivered"})
        dead = await get_async_db(ALIAS)["persistence_outbox_dead"].count_documents({})

        by_key: dict[str, list[int]] = {}
        for effect in effects:
            by_key.setdefault(effect.key, []).append(effect.value)
        expected = {t.id: list(range(1, t.value + 1)) for t in tallies_now}
        lost = sum(len(set(values) - set(by_key.get(key, []))) for key, values in expected.items())
        applied = Counter(e.event for e in effects)
        duplicated = sum(n - 1 for n in applied.values() if n > 1)
        invented = [e for e in effects if e.tag in record["rolled_back"] or e.value < 1]
        out_of_order = [e for e in effects if not e.in_order]
        print(
            f"\noutbox crash: {committed} events committed by {WRITERS} writers "
            f"({record['unknown']} commits of unknown outcome, {record['not_applied']} not "
            f"applied, {len(record['rolled_back'])} blocks rolled back after publishing); "
            f"{SERVER_KILLS} server kills, {CONSUMER_KILLS} consumer kills "
            f"({consumers.started} consumer starts); {len(effects)} effects, "
            f"{(stats or {}).get('n', 0)} redeliveries skipped by handle_once, {dead} dead; "
            f"lost {lost}, from rolled-back blocks {len(invented)}, out of order "
            f"{len(out_of_order)}, duplicated {duplicated}; writing {writing:.1f} s, "
            f"total {time.monotonic() - began:.1f} s"
        )
        assert committed >= EVENTS
        assert lost == 0
        assert invented == []
        assert out_of_order == []
        assert duplicated == 0
        assert dead == 0
