"""Client-CPU benchmark of this project against the other async MongoDB ODMs.

``python -m benchmarks.run`` starts one embedded server (unless ``MONGODB_URI`` is set),
creates Beanie's and ODMantic's virtualenvs under ``benchmarks/.venvs`` the first time
(from PyPI), and runs every contestant in its own process: raw PyMongo async, sync
MongoEngine, this project's engine, Beanie and ODMantic.  All declare the same model
(``name`` indexed, ``age``, ``email``, ``tags``) on their own collections of one fresh
database, with ``retryWrites=false`` (see ``docs/server-gaps.md``).

Each workload runs ``reps`` repetitions after one warm-up; within a repetition the
contestants run one after the other, in an order rotated per repetition, so drift hits
all of them alike.  A contestant reports the client CPU (``time.process_time``) of its
own process; the table shows the median per operation (or per document) and the
project's ratio to the best peer.  After every run the coordinator reads the data back
with its own client (documents inserted, ages incremented, counts) and stops on a
mismatch.  The table is written to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pymongo

from .protocol import COUNT_FILTER_AGE, GROUP, person, without_retryable_writes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
VENVS = HERE / ".venvs"


@dataclass(frozen=True)
class Contestant:
    key: str
    label: str
    script: str  # in benchmarks/contestants/
    requirement: str | None = None  # own virtualenv from PyPI; None: this interpreter
    distributions: tuple[str, ...] = ()  # versions reported in the results
    peer: bool = False  # counts for "best peer"


CONTESTANTS = (
    Contestant("raw", "raw PyMongo async", "raw_pymongo.py", None, ("pymongo",)),
    Contestant("sync", "sync MongoEngine", "sync_mongoengine.py", None, ("mongoengine",)),
    Contestant("engine", "this project", "engine.py", None, ("mongoengine", "greenlet")),
    Contestant("beanie", "Beanie", "beanie_peer.py", "beanie>=2,<3", ("beanie", "pydantic"), True),
    Contestant(
        "odmantic", "ODMantic", "odmantic_peer.py", "odmantic>=1,<2", ("odmantic", "motor"), True
    ),
)


@dataclass(frozen=True)
class Sizes:
    people: int = 300  # stored people per contestant
    big: int = 5000  # documents iterated, aggregated, bulk-inserted
    single: int = 300  # operations per timed run of the single-document workloads
    counts: int = 60
    pipelines: int = 20
    calls: int = 50  # gets in the concurrency workload
    latency_ms: int = 20


TINY = Sizes(people=20, big=50, single=10, counts=3, pipelines=2, calls=5, latency_ms=5)


class Worker:
    """One contestant's process; ``call`` sends a command and returns its answer."""

    def __init__(self, contestant: Contestant, python: str, log: IO[str]) -> None:
        self.contestant = contestant
        script = HERE / "contestants" / contestant.script
        self.process = subprocess.Popen(
            [python, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=HERE.parent,
        )

    def call(self, op: str, *args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"{self.contestant.label} exited (code {self.process.wait()}); "
                "see benchmarks/.venvs/worker.log"
            )
        answer: dict[str, Any] = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"{self.contestant.label} failed in {op}: {answer['error']}")
        return answer

    def close(self) -> None:
        """Ask the process to quit (killing it if it cannot answer) and close its pipes."""
        try:
            self.call("quit")
        except Exception:  # a dead worker must not hide the cause
            self.process.kill()
        finally:
            self.process.wait(timeout=30)
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    pipe.close()


def ensure_python(contestant: Contestant, venvs: Path = VENVS) -> str:
    """The interpreter that runs ``contestant``: this one, or its own virtualenv
    (created and filled from PyPI when missing or made for another requirement)."""
    if contestant.requirement is None:
        return sys.executable
    home = venvs / contestant.key
    python = home / "bin" / "python"
    marker = home / ".requirement"
    if python.exists() and marker.exists() and marker.read_text() == contestant.requirement:
        return str(python)
    print(f"  creating {home} with {contestant.requirement} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         contestant.requirement],
        check=True,
    )  # fmt: skip
    marker.write_text(contestant.requirement)
    return str(python)


# -- workloads -------------------------------------------------------------------------


@dataclass
class Workload:
    """A timed call, its operation count, and how the coordinator prepares and checks it."""

    key: str  # the contestant method
    label: str
    unit: str
    ops: Callable[[Sizes], int]
    args: Callable[[Sizes, int], list[Any]]
    reset: Callable[[Any, str, Sizes], Any] = lambda db, prefix, sizes: None
    check: Callable[[Any, str, Sizes, Any, Any], None] = lambda *a: None


def _expect(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, read back {got!r}")


def _age_sum(db: Any, prefix: str) -> int:
    rows = list(
        db[f"{prefix}_people"].aggregate([{"$group": {"_id": None, "s": {"$sum": "$age"}}}])
    )
    return int(rows[0]["s"]) if rows else 0


def _check_inserted(db: Any, prefix: str, sizes: Sizes, state: Any, result: Any) -> None:
    people = db[f"{prefix}_people"]
    _expect("documents inserted", people.count_documents({"name": {"$regex": "^r"}}), sizes.single)
    _expect("insert result", result, sizes.single)
    people.delete_many({"name": {"$regex": "^r"}})  # keep the collection's size constant


def _check_bulk(db: Any, prefix: str, sizes: Sizes, state: Any, result: Any) -> None:
    _expect("documents bulk-inserted", db[f"{prefix}_bulk"].count_documents({}), sizes.big)
    _expect("bulk insert result", result, sizes.big)


def _groups(db: Any) -> int:
    return len(list(db["big"].aggregate(GROUP)))


WORKLOADS = (
    Workload(
        "insert_one", "insert one new document", "operation",
        lambda s: s.single, lambda s, rep: [s.single, rep], check=_check_inserted,
    ),
    Workload(
        "get_one", "get one by indexed field", "operation",
        lambda s: s.single, lambda s, rep: [s.single],
        check=lambda db, p, s, st, res: _expect("documents found", res, s.single),
    ),
    Workload(
        "update_inc", "update_one `$inc` by indexed field", "operation",
        lambda s: s.single, lambda s, rep: [s.single],
        reset=lambda db, p, s: _age_sum(db, p),
        check=lambda db, p, s, before, res: _expect(
            "ages incremented", _age_sum(db, p) - before, s.single
        ),
    ),
    Workload(
        "count", "count with a filter", "operation",
        lambda s: s.counts, lambda s, rep: [s.counts],
        check=lambda db, p, s, st, res: _expect(
            "count", res, db[f"{p}_people"].count_documents({"age": {"$gte": COUNT_FILTER_AGE}})
        ),
    ),
    Workload(
        "iterate", "iterate {big:,} documents into model objects", "document",
        lambda s: s.big, lambda s, rep: [],
        check=lambda db, p, s, st, res: _expect("model objects", res, s.big),
    ),
    Workload(
        "bulk_insert", "bulk insert {big:,} documents", "document",
        lambda s: s.big, lambda s, rep: [s.big],
        reset=lambda db, p, s: db[f"{p}_bulk"].drop(), check=_check_bulk,
    ),
    Workload(
        "aggregate", "aggregate `$group` over {big:,} docs", "pipeline",
        lambda s: s.pipelines, lambda s, rep: [s.pipelines],
        check=lambda db, p, s, st, res: _expect("groups", res, _groups(db)),
    ),
)  # fmt: skip


@dataclass
class Results:
    sizes: Sizes
    reps: int
    contestants: list[Contestant]
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # µs per op
    unsupported: dict[str, set[str]] = field(default_factory=dict)
    speedup: dict[str, list[float]] = field(default_factory=dict)
    versions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    seconds: float = 0.0

    def median(self, workload: str, contestant: str) -> float | None:
        values = self.cpu.get(workload, {}).get(contestant)
        return statistics.median(values) if values else None


def _prepare(db: Any, sizes: Sizes, contestants: Sequence[Contestant]) -> None:
    db["big"].insert_many([person(i, "g") for i in range(sizes.big)])
    for c in contestants:
        db[f"{c.key}_people"].insert_many([person(i) for i in range(sizes.people)])


def _fail_point(client: Any, mode: str, latency_ms: int = 0) -> None:
    command: dict[str, Any] = {"configureFailPoint": "failCommand", "mode": mode}
    if mode != "off":
        command["data"] = {
            "failCommands": ["find"], "blockConnection": True, "blockTimeMS": latency_ms,
        }  # fmt: skip
    client.admin.command(command)


def measure(
    uri: str,
    sizes: Sizes,
    reps: int,
    contestants: Sequence[Contestant],
    log: IO[str],
    only: Sequence[str] | None = None,
) -> Results:
    """Run every workload (or those named in ``only``; ``"concurrency"`` names the
    concurrency workload) on every contestant; raises when a read-back check fails."""
    uri = without_retryable_writes(uri)
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    client: Any = pymongo.MongoClient(uri)
    db = client[db_name]
    results = Results(sizes, reps, list(contestants))
    workers: dict[str, Worker] = {}
    started = time.perf_counter()
    try:
        _prepare(db, sizes, contestants)
        for c in contestants:
            workers[c.key] = Worker(c, ensure_python(c), log)
            workers[c.key].call("setup", uri, db_name, c.key)
            versions = workers[c.key].call("versions", list(c.distributions))
            results.versions[c.key] = versions["result"]
        keys = [c.key for c in contestants]
        for workload in WORKLOADS:
            if only is not None and workload.key not in only:
                continue
            ops = workload.ops(sizes)
            samples = results.cpu.setdefault(workload.key, {})
            for rep in range(reps + 1):  # repetition 0 warms every path up
                shift = rep % len(keys)
                for key in keys[shift:] + keys[:shift]:
                    if key in results.unsupported.get(workload.key, set()):
                        continue
                    state = workload.reset(db, key, sizes)
                    answer = workers[key].call(workload.key, *workload.args(sizes, rep))
                    if answer.get("unsupported"):
                        results.unsupported.setdefault(workload.key, set()).add(key)
                        continue
                    workload.check(db, key, sizes, state, answer["result"])
                    if rep:
                        samples.setdefault(key, []).append(answer["cpu"] / ops * 1e6)
            print(f"  measured {workload.key}", flush=True)
        if only is None or "concurrency" in only:
            _concurrency(client, workers, keys, sizes, max(1, reps), results)
    finally:
        for worker in workers.values():
            worker.close()
        client.drop_database(db_name)
        client.close()
    results.seconds = time.perf_counter() - started
    return results


def _concurrency(
    client: Any, workers: dict[str, Worker], keys: list[str], sizes: Sizes, reps: int,
    results: Results,
) -> None:  # fmt: skip
    """Wall clock of ``calls`` gets gathered against as many sequential gets, with
    ``latency_ms`` of server latency injected on every ``find``."""
    for key in keys:
        warm = workers[key].call("gets_gathered", sizes.calls)  # fill the connection pool
        if warm.get("unsupported"):
            continue
        _expect("documents found", warm["result"], sizes.calls)
    for rep in range(reps):
        shift = rep % len(keys)
        for key in keys[shift:] + keys[:shift]:
            _fail_point(client, "alwaysOn", sizes.latency_ms)
            try:
                sequential = workers[key].call("gets_sequential", sizes.calls)
                gathered = workers[key].call("gets_gathered", sizes.calls)
            finally:
                _fail_point(client, "off")
            if gathered.get("unsupported"):
                continue
            _expect("documents found", gathered["result"], sizes.calls)
            _expect("documents found", sequential["result"], sizes.calls)
            results.speedup.setdefault(key, []).append(sequential["wall"] / gathered["wall"])


# -- report ------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _cell(values: list[float], fmt: Callable[[float], str]) -> str:
    """The median of ``values`` (one per run), with their range when there are several."""
    if not values:
        return "—"
    middle = fmt(statistics.median(values))
    return middle if len(values) == 1 else f"{middle} ({fmt(min(values))}-{fmt(max(values))})"


def _ratio_fmt(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class Comparison:
    """This project's figure over the best peer's: the median of the paired ratios and a
    95 % interval, with the verdict that interval allows."""

    median: float
    low: float
    high: float
    higher_is_better: bool = False

    @property
    def verdict(self) -> str:
        """``ahead`` or ``behind`` only when the whole interval is on one side of 1."""
        better, worse = (self.low > 1, self.high < 1)
        if self.higher_is_better:
            return "ahead" if better else "behind" if worse else "level"
        return "ahead" if worse else "behind" if better else "level"

    def cell(self) -> str:
        return (
            f"{_ratio_fmt(self.median)} [{_ratio_fmt(self.low)}-{_ratio_fmt(self.high)}] "
            f"{self.verdict}"
        )


def compare(
    pairs: Sequence[Sequence[tuple[float, float]]],
    *,
    higher_is_better: bool = False,
    resamples: int = 2000,
    seed: int = 2891,
) -> Comparison | None:
    """Compare paired samples (this project, best peer), grouped by run.

    Within a repetition the contestants ran one right after the other, so each pair
    shares the machine's state of that moment: the ratio of a pair cancels most drift.
    The interval is a two-level bootstrap (runs drawn with replacement, then repetitions
    within each drawn run), so a disturbance that hits one whole run widens it as it
    should.  Deterministic for a given ``seed``.
    """
    groups = [[a / b for a, b in run if b > 0] for run in pairs]
    groups = [g for g in groups if g]
    if not groups:
        return None
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        drawn: list[float] = []
        for _ in groups:
            group = groups[rng.randrange(len(groups))]
            drawn.extend(group[rng.randrange(len(group))] for _ in group)
        estimates.append(statistics.median(drawn))
    estimates.sort()
    low = estimates[int(0.025 * (resamples - 1))]
    high = estimates[int(0.975 * (resamples - 1))]
    middle = statistics.median([ratio for group in groups for ratio in group])
    return Comparison(middle, low, high, higher_is_better)


def _best_peer(samples: dict[str, list[float]], peers: Sequence[str], lowest: bool) -> str | None:
    """The peer with the best median in one run (lowest CPU, or highest speedup)."""
    present = [p for p in peers if samples.get(p)]
    if not present:
        return None
    pick = min if lowest else max
    return pick(present, key=lambda p: statistics.median(samples[p]))


def _pairs(
    runs: Sequence[Results], peers: Sequence[str], *, workload: str | None
) -> list[list[tuple[float, float]]]:
    """Per run, (this project, best peer of that run) per repetition (CPU samples of
    ``workload``, or the concurrency speedups when ``workload`` is None)."""
    grouped = []
    for r in runs:
        samples = r.cpu.get(workload, {}) if workload is not None else r.speedup
        best = _best_peer(samples, peers, lowest=workload is not None)
        ours = samples.get("engine", [])
        if best is None or not ours:
            continue
        grouped.append(list(zip(ours, samples[best], strict=False)))
    return grouped


def _comparison_cell(comparison: Comparison | None) -> str:
    return "—" if comparison is None else comparison.cell()


def table(runs: Sequence[Results]) -> str:
    """The results table: per cell the median of the runs' medians (and their range); the
    last column compares this project with the best peer, paired per repetition."""
    first = runs[0]
    contestants = first.contestants
    peer_keys = [c.key for c in contestants if c.peer]
    head = " | ".join(f"{c.label} µs" for c in contestants)
    lines = [
        f"| workload | per | {head} | project / best peer |",
        "| --- | --- | " + " | ".join("---:" for _ in contestants) + " | ---: |",
    ]
    for w in WORKLOADS:
        cells = []
        for c in contestants:
            if c.key in first.unsupported.get(w.key, set()):
                cells.append("(no API)")
                continue
            values = [v for r in runs if (v := r.median(w.key, c.key)) is not None]
            cells.append(_cell(values, _fmt))
        comparison = compare(_pairs(runs, peer_keys, workload=w.key))
        label = w.label.format(big=first.sizes.big)
        lines.append(
            f"| {label} | {w.unit} | {' | '.join(cells)} | {_comparison_cell(comparison)} |"
        )
    cells = []
    for c in contestants:
        values = [statistics.median(r.speedup[c.key]) for r in runs if c.key in r.speedup]
        cells.append(_cell(values, lambda v: f"{v:.1f}x"))
    comparison = compare(_pairs(runs, peer_keys, workload=None), higher_is_better=True)
    s = first.sizes
    lines.append(
        f"| {s.calls} gets gathered / {s.calls} sequential, {s.latency_ms} ms injected "
        f"latency (wall, higher is better) | speedup | {' | '.join(cells)} | "
        f"{_comparison_cell(comparison)} |"
    )
    return "\n".join(lines)


def report(runs: Sequence[Results], server: str) -> str:
    results = runs[0]
    versions = "; ".join(
        f"{c.label}: " + ", ".join(f"{k} {v}" for k, v in results.versions.get(c.key, {}).items())
        for c in results.contestants
    )
    how = (
        f"the median of {len(runs)} whole runs (their range in brackets), each the median of "
        f"{results.reps} repetitions after one warm-up"
        if len(runs) > 1
        else f"median of {results.reps} repetitions after one warm-up"
    )
    seconds = sum(r.seconds for r in runs)
    try:
        load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Client CPU (`time.process_time` of the contestant's own process) per operation, "
            f"{how}; contestants interleaved "
            "(order rotated per repetition), each in its own process and virtualenv, one "
            "server, one fresh database, `retryWrites=false` for every contestant "
            "(`docs/server-gaps.md`). After every run the data are read back and checked "
            "(documents inserted, ages incremented, counts, groups). Lower is better except "
            'the concurrency row. "project / best peer" divides this project\'s figure by '
            "that of the best of Beanie and ODMantic (for the concurrency row: speedup over "
            "the best peer's speedup, higher is better), repetition by repetition (the two "
            "ran one right after the other): the median of those ratios, in square brackets "
            "a 95 % interval (bootstrap over runs, then repetitions within them), then the "
            "verdict: *ahead* or *behind* only when the whole interval is on one side of "
            "1.00, otherwise *level* (the difference is within the noise).",
            "",
            "Rerun: `python -m benchmarks.run` (creates Beanie's and ODMantic's virtualenvs "
            "under `benchmarks/.venvs` from PyPI the first time; `MONGODB_URI` selects a "
            "server, else the embedded one starts; `--runs 3` for three whole runs; `--reps`, "
            "`--contestants`, `--workloads`, `--tiny`).",
            "",
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {load} at the end of the run",
            f"- server: {server}",
            f"- versions: {versions}",
            f"- run at {time.strftime('%Y-%m-%d %H:%M:%S')}, took {seconds:,.0f} s",
            "",
            table(runs),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> list[Results]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per workload")
    parser.add_argument("--runs", type=int, default=1, help="whole runs (median, range)")
    parser.add_argument(
        "--contestants", default=",".join(c.key for c in CONTESTANTS),
        help="comma-separated subset of: " + ", ".join(c.key for c in CONTESTANTS),
    )  # fmt: skip
    parser.add_argument(
        "--workloads",
        help="comma-separated subset of: "
        + ", ".join([w.key for w in WORKLOADS] + ["concurrency"]),
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny sizes (smoke test; RESULTS.md is left as it is)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    wanted = args.contestants.split(",")
    unknown = set(wanted) - {c.key for c in CONTESTANTS}
    if unknown:
        parser.error(f"unknown contestants {sorted(unknown)}")
    contestants = [c for c in CONTESTANTS if c.key in wanted]
    only = args.workloads.split(",") if args.workloads else None
    sizes = TINY if args.tiny else Sizes()

    from persistence.testing import server_uri_from_env_or_start

    VENVS.mkdir(parents=True, exist_ok=True)
    uri, server = server_uri_from_env_or_start()
    try:
        runs = []
        with (VENVS / "worker.log").open("a", encoding="utf-8") as log:
            for run in range(args.runs):
                print(f"run {run + 1} of {args.runs}", flush=True)
                runs.append(measure(uri, sizes, args.reps, contestants, log, only))
    finally:
        if server is not None:
            server.stop()
    text = report(runs, "embedded SecantusDB" if server is not None else "MONGODB_URI")
    print(text)
    if not (args.no_write or args.tiny) and only is None:
        RESULTS.write_text(text, encoding="utf-8")
    return runs


if __name__ == "__main__":
    main()
