"""The README's demo command runs and does what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_against_the_test_server(mongodb_uri: str) -> None:
    env = {**os.environ, "MONGODB_URI": mongodb_uri}
    result = subprocess.run(
        [sys.executable, "-m", "adapters.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "second registration refused" in out
    assert "visits = 1" in out
    assert "['Jane', 'John']" in out
    assert "use await visitor.async_save()" in out
    assert "'Async MongoDB' by Ann, edited by Bob" in out
    assert "manual.pdf: 12 bytes in GridFS" in out
    assert "DeleteDenied (DENY)" in out
    assert "0 books, 0 reviews, shelf holds 0 books" in out
    assert "11 concurrent transfers, 1 refused; total balance 500" in out
    assert out.rstrip().endswith("Done.")
