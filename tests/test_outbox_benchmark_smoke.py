"""The outbox benchmark measures both backends and writes its table (no timing is
asserted: the numbers go to benchmarks/OUTBOX.md)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import outbox


async def test_the_outbox_benchmark_runs_on_both_backends(
    mongodb_uri: str, tmp_path: Path
) -> None:
    results = await outbox.run(mongodb_uri, events=8, writers=2)
    assert [r.backend for r in results] == ["memory", "server (change streams)"]
    assert all(r.p50_ms >= 0 and r.p99_ms >= r.p50_ms for r in results)
    assert all(r.plain_per_s > 0 and r.once_per_s > 0 for r in results)
    lines = [outbox.line(r) for r in results]
    assert all(line.startswith("| ") and line.count("|") == 6 for line in lines)
