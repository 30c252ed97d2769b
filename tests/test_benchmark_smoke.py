"""The peer benchmark runs end to end at a tiny size with the project's own contestant.

No timing is asserted: only that every workload ran, its read-back checks passed, and
the report shows the project's column.  The peers' virtualenvs are not created here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from benchmarks import run
from benchmarks.protocol import without_retryable_writes


def test_benchmark_runs_at_tiny_size_with_the_engine(mongodb_uri: str, tmp_path: Path) -> None:
    engine = [c for c in run.CONTESTANTS if c.key == "engine"]
    with (tmp_path / "worker.log").open("w", encoding="utf-8") as log:
        results = run.measure(mongodb_uri, run.TINY, 1, engine, log)
    for workload in run.WORKLOADS:
        samples = results.cpu[workload.key]["engine"]
        assert len(samples) == 1 and samples[0] > 0, workload.key
    assert len(results.speedup["engine"]) == 1
    assert results.versions["engine"]["mongoengine"].startswith("0.29")
    text = run.report([results], "test server")
    assert "| this project µs |" in text and "(no API)" not in text
    several = run.report([results, results], "test server")  # medians with their range
    row = next(line for line in several.splitlines() if line.startswith("| insert one"))
    value = _fmt_engine(results, "insert_one")
    assert f"| {value} ({value}-{value}) |" in row
    client: MongoClient[Any] = MongoClient(mongodb_uri)
    names = client.list_database_names()
    client.close()
    assert not [n for n in names if n.startswith("bench_")]  # the run dropped its database


def _fmt_engine(results: Any, workload: str) -> str:
    value = results.median(workload, "engine")
    assert value is not None
    return run._fmt(value)


def test_a_wrong_read_back_stops_the_run(
    mongodb_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contestant whose writes did not reach the server fails the run, naming the check."""
    original = run.Worker.call
    client: MongoClient[Any] = MongoClient(mongodb_uri)

    def losing_inserts(self: Any, op: str, *args: Any) -> dict[str, Any]:
        if op == "setup":
            self.database = args[1]
        answer = original(self, op, *args)
        if op == "insert_one":  # as if the inserts were lost
            client[self.database]["engine_people"].delete_many({"name": {"$regex": "^r"}})
        return answer

    monkeypatch.setattr(run.Worker, "call", losing_inserts)
    engine = [c for c in run.CONTESTANTS if c.key == "engine"]
    with (tmp_path / "worker.log").open("w", encoding="utf-8") as log:
        with pytest.raises(AssertionError, match="documents inserted: expected 10, read back 0"):
            run.measure(mongodb_uri, run.TINY, 1, engine, log)
    client.close()


def test_every_contestant_gets_retryable_writes_off() -> None:
    assert without_retryable_writes("mongodb://h:1") == "mongodb://h:1/?retryWrites=false"
    uri = without_retryable_writes("mongodb://h:1/db?replicaSet=rs&retryWrites=true")
    assert uri == "mongodb://h:1/db?replicaSet=rs&retryWrites=false"


def test_a_row_is_ahead_only_beyond_its_interval() -> None:
    """The comparison calls a row ahead or behind only when the whole 95 % interval of
    the paired ratios is on one side of 1; overlapping noise is ``level``."""
    steady = [[(80.0 + i, 100.0 + i) for i in range(5)] for _ in range(3)]
    ahead = run.compare(steady)
    assert ahead is not None and ahead.verdict == "ahead" and ahead.high < 1
    behind = run.compare([[(b, a) for a, b in group] for group in steady])
    assert behind is not None and behind.verdict == "behind" and behind.low > 1
    # Ratios scattered on both sides of 1 (one run faster, one slower): level.
    noisy = [
        [(95.0, 100.0), (97.0, 100.0), (99.0, 100.0)],
        [(104.0, 100.0), (102.0, 100.0), (101.0, 100.0)],
        [(98.0, 100.0), (103.0, 100.0), (100.0, 100.0)],
    ]
    level = run.compare(noisy)
    assert level is not None and level.verdict == "level"
    assert level.low < 1 < level.high
    # Higher is better (speedups): the same interval reads the other way round.
    faster = run.compare([[(20.0, 15.0)] * 4] * 3, higher_is_better=True)
    assert faster is not None and faster.verdict == "ahead"
    assert "ahead" in faster.cell() and "[1.33-1.33]" in faster.cell()
    assert run.compare([[]]) is None


def test_the_comparison_pairs_each_repetition_with_the_best_peer_of_its_run() -> None:
    results = run.Results(run.TINY, 3, list(run.CONTESTANTS))
    results.cpu["get_one"] = {
        "engine": [90.0, 91.0, 92.0],
        "beanie": [100.0, 101.0, 102.0],
        "odmantic": [200.0, 201.0, 202.0],
    }
    peers = [c.key for c in run.CONTESTANTS if c.peer]
    pairs = run._pairs([results], peers, workload="get_one")
    assert pairs == [[(90.0, 100.0), (91.0, 101.0), (92.0, 102.0)]]
    row = next(line for line in run.table([results]).splitlines() if "get one" in line)
    assert row.endswith(" ahead |")
