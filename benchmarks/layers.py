"""The repository layer against the engine, inside a transaction and outside one.

Run with ``python -m benchmarks.layers`` (starts the embedded server unless
``MONGODB_URI`` is set; ``--runs 3`` makes three whole runs and reports the median of
their medians with the range).  Each workload (:mod:`benchmarks.layer_workloads`) does
the same work through the engine (``Document.objects...async_*``) and through a
repository of a registered aggregate; both variants run in two tasks of one process
taking turns every few operations, against one server, and the table gives the median client CPU
(``time.process_time``) per operation and the ratio repository / engine per mode (target
1.10 or less).  The table is written to ``benchmarks/LAYERS.md``; the comparison with
the other async ODMs is :mod:`benchmarks.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import greenlet
import mongoengine
import pymongo

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import connect_async, disconnect_async
from persistence.testing import server_uri_from_env_or_start

from .layer_workloads import TURN, WORKLOADS, Bench, LayerWorkload, measure, store_members
from .protocol import without_retryable_writes

RESULTS = Path(__file__).with_name("LAYERS.md")
TARGET = 1.10  # repository / engine
MODES = {"inside": True, "outside": False}  # inside a transaction or not
VARIANTS = ("engine", "repository")


@dataclass
class Measured:
    """Per workload, mode and variant: the median of each run."""

    medians: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str], value: float) -> None:
        self.medians.setdefault(key, []).append(value)

    def value(self, key: tuple[str, str, str]) -> float:
        return statistics.median(self.medians[key])

    def span(self, key: tuple[str, str, str]) -> tuple[float, float]:
        values = self.medians[key]
        return min(values), max(values)

    def ratios(self, workload: str, mode: str) -> list[float]:
        """The repository / engine ratio of each run."""
        engine = self.medians[(workload, mode, "engine")]
        repository = self.medians[(workload, mode, "repository")]
        return [r / e for r, e in zip(repository, engine, strict=True)]


async def measure_workload(workload: LayerWorkload, b: Bench, reps: int) -> dict[str, float]:
    """Medians of ``reps`` repetitions (after one warm-up) per mode and variant."""
    samples: dict[str, list[float]] = {}
    for rep in range(reps + 1):
        for mode, inside in MODES.items():
            await workload.reset(b)
            cpu = await measure(workload, b, inside, first=VARIANTS[rep % 2])
            if rep:
                for variant, value in cpu.items():
                    samples.setdefault(f"{mode}/{variant}", []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


async def one_run(uri: str, reps: int, only: str | None, measured: Measured) -> None:
    db_name = f"bench_layers_{uuid.uuid4().hex[:8]}"
    client = await connect_async(db_name, host=uri)
    try:
        b = Bench()
        await store_members(b)
        for workload in WORKLOADS:
            if only and only not in workload.name:
                continue
            result = await measure_workload(workload, b, reps)
            for key, value in result.items():
                mode, variant = key.split("/")
                measured.add((workload.name, mode, variant), value)
            print(f"  measured {workload.name}", flush=True)
    finally:
        await client.drop_database(db_name)
        await disconnect_async()


def _fmt(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def _cell(m: Measured, key: tuple[str, str, str], runs: int) -> str:
    if runs == 1:
        return _fmt(m.value(key))
    low, high = m.span(key)
    return f"{_fmt(m.value(key))} ({_fmt(low)}-{_fmt(high)})"


def table(m: Measured, runs: int) -> str:
    lines = [
        "| workload | per | mode | engine µs | repository µs | repository / engine |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for workload in WORKLOADS:
        for mode in MODES:
            if (workload.name, mode, "engine") not in m.medians:
                continue
            ratios = m.ratios(workload.name, mode)
            ratio = statistics.median(ratios)
            text = f"{ratio:.2f}"
            if runs > 1:
                text += f" ({min(ratios):.2f}-{max(ratios):.2f})"
            mark = "✅" if ratio <= TARGET else "❌"
            lines.append(
                f"| {workload.name} | {workload.unit} | {mode} a transaction | "
                f"{_cell(m, (workload.name, mode, 'engine'), runs)} | "
                f"{_cell(m, (workload.name, mode, 'repository'), runs)} | {text} {mark} |"
            )
    return "\n".join(lines)


def report(m: Measured, server: str, reps: int, runs: int, load: str) -> str:
    how = (
        f"the median of {runs} whole runs (range in brackets), each the median of {reps}"
        if runs > 1
        else f"the median of {reps}"
    )
    return "\n".join(
        [
            "# The repository layer against the engine",
            "",
            "Client CPU (`time.process_time`) per operation: "
            f"{how} repetitions after one warm-up. Engine and repository run in two "
            f"tasks of one process that take turns every {TURN} operations (so a change "
            "in the machine's load hits both alike), one server. The same work both ways "
            "(`benchmarks/layer_workloads.py`): the engine on a Document, the repository "
            "on the registered aggregate (entities in and out). *Inside a transaction*: "
            "the engine's operations run in one `async_run_in_transaction` block, the "
            "repository's in one unit of work; *outside*: the engine bare, the repository "
            "in a unit of work without transactions. Opening and committing are timed "
            "only in the block workload. Target: repository / engine ≤ "
            f"{TARGET:.2f}.",
            "",
            "Rerun: `python -m benchmarks.layers --runs 3`.",
            "",
            f"- machine: {platform.machine()}, Python {platform.python_version()}, "
            f"load average {load} at the end",
            f"- pymongo {pymongo.version}, mongoengine {mongoengine.get_version()}, "
            f"greenlet {greenlet.__version__}",
            f"- server: {server}",
            f"- run at {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "",
            table(m, runs),
            "",
        ]
    )


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="repetitions per workload")
    parser.add_argument("--runs", type=int, default=1, help="whole runs (median, range)")
    parser.add_argument("--only", help="run only workloads whose name contains this")
    parser.add_argument("--no-write", action="store_true", help="do not write LAYERS.md")
    args = parser.parse_args()
    uri, server = server_uri_from_env_or_start()
    uri = without_retryable_writes(uri)  # see docs/server-gaps.md
    measured = Measured()
    try:
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}", flush=True)
            asyncio.run(one_run(uri, args.reps, args.only, measured))
    finally:
        if server is not None:
            server.stop()
    name = "embedded SecantusDB" if server is not None else "MONGODB_URI"
    text = report(measured, name, args.reps, args.runs, _load())
    print(text)
    if not args.no_write and not args.only:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
