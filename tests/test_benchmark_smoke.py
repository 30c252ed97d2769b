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
