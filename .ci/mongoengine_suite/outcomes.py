"""pytest plugin: write the ids of failing tests to $ME_SUITE_FAILURES (one per line)."""

from __future__ import annotations

import os
from typing import Any

_failed: set[str] = set()
_passed: set[str] = set()


def pytest_runtest_logreport(report: Any) -> None:
    if report.failed:
        _failed.add(report.nodeid)
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("ME_SUITE_FAILURES")
    if path:
        with open(path, "w") as out:
            out.writelines(f"{nodeid}\n" for nodeid in sorted(_failed))
        with open(path + ".passed", "w") as out:
            out.writelines(f"{nodeid}\n" for nodeid in sorted(_passed - _failed))
