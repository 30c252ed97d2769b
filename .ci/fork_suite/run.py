"""Run the async MongoEngine fork's own async tests (PR #2891) against this project.

The fork (github.com/jeonghanjoo/mongoengine) is never copied into this repository: give
the path of a checkout (its root or its ``tests`` directory) as the argument or in
``FORK_TESTS``.  Its ``tests/test_async_*.py`` are copied unmodified to a temporary
directory and run with ``fork_plugin.py``, which activates this project in the fork's
place and points MongoEngine's default host at an embedded server started here on a free
port (``MONGODB_URI`` picks another server).

Every test that does not pass must be listed in ``differences.txt`` with its reason
(each one is explained in docs/migrating.md); the run fails on any other failure, or when
fewer than ``--min-passed`` tests pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DIFFERENCES = HERE / "differences.txt"
MIN_PASSED = 88


def fork_tests(argument: str | None) -> tuple[Path, str]:
    """The fork's ``tests`` directory and the commit it is at (or ``unknown``)."""
    configured = argument or os.environ.get("FORK_TESTS")
    if not configured:
        sys.exit("give the path of a checkout of jeonghanjoo/mongoengine (or set FORK_TESTS)")
    path = Path(configured).resolve()
    if (path / "tests").is_dir():  # the checkout's root (which has scripts of that name)
        path = path / "tests"
    if not list(path.glob("test_async_*.py")):
        sys.exit(f"no test_async_*.py under {configured}: is it the fork's checkout?")
    commit = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return path, commit.stdout.strip() if commit.returncode == 0 else "unknown"


def read_differences() -> dict[str, str]:
    """test id -> reason (the text after ``#``) of ``differences.txt``."""
    listed = {}
    for line in DIFFERENCES.read_text().splitlines():
        test_id, _, reason = line.partition("#")
        if test_id.strip():
            listed[test_id.strip()] = reason.strip()
    return listed


def run(source: Path, uri: str) -> dict[str, dict[str, str]]:
    """Run the fork's async tests against ``uri``: node id -> outcome and reason."""
    with tempfile.TemporaryDirectory(prefix="fork-suite-") as work:
        tests = Path(work) / "tests"
        tests.mkdir()
        for path in sorted(source.glob("test_async_*.py")):
            shutil.copy(path, tests / path.name)
        (Path(work) / "pytest.ini").write_text(
            "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        )
        report = Path(work) / "report.json"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
            "FORK_SUITE_URI": uri,
            "FORK_SUITE_REPORT": str(report),
        }
        command = [
            sys.executable, "-m", "pytest", "-q",
            "-p", "no:cacheprovider",
            "-p", "no:persistence",  # the layer's own pytest plugin stays out
            "-p", "fork_plugin",
            "--tb=short", "--continue-on-collection-errors", "-W", "ignore::DeprecationWarning",
            "tests",
        ]  # fmt: skip
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
        if not report.exists():
            sys.stdout.write(result.stdout[-5000:] + result.stderr[-5000:])
            sys.exit(f"pytest did not run (exit {result.returncode})")
        outcomes: dict[str, dict[str, str]] = json.loads(report.read_text())
        return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fork", nargs="?", help="the fork's checkout (default: $FORK_TESTS)")
    parser.add_argument("--min-passed", type=int, default=MIN_PASSED)
    args = parser.parse_args()
    source, commit = fork_tests(args.fork)
    sys.path.insert(0, str(REPO))
    from persistence.testing.embedded_server import server_uri_from_env_or_start

    uri, server = server_uri_from_env_or_start()
    try:
        outcomes = run(source, uri)
    finally:
        if server is not None:
            server.stop()
    listed = read_differences()
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for entry in outcomes.values():
        counts[entry["outcome"]] += 1
    print(f"fork tests from {source} (commit {commit})")
    not_passed = {k: v for k, v in outcomes.items() if v["outcome"] != "passed"}
    new = []
    for test_id, entry in sorted(not_passed.items()):
        reason = listed.get(test_id)
        label = "listed" if reason is not None else "NEW"
        print(f"{entry['outcome'].upper()} ({label}) {test_id}\n    {entry['reason']}")
        if reason is not None:
            print(f"    why: {reason}")
        else:
            new.append(test_id)
    for test_id in sorted(set(listed) - set(not_passed)):
        print(f"listed but {'passes' if test_id in outcomes else 'not run'}: {test_id}")
    total = len(outcomes)
    print(
        f"fork suite: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped of {total}"
    )
    ok = not new and counts["passed"] >= args.min_passed
    if counts["passed"] < args.min_passed:
        print(f"fewer than {args.min_passed} passed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
