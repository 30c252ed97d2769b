"""Run MongoEngine's own test suite against the embedded server and compare with baselines.

Modes (``--mode``; default ``ci``: addon then native, what ``.ci/run`` runs; ``all``:
addon, engine, native):

``addon``   sync MongoEngine with ``import persistence.engine`` active: no failure beyond
            ``baseline-sync.txt`` (the same run without the add-on: the server's gaps).
``engine``  through the engine: every connection made with ``connect_async``, every test
            run as sync code inside ``run_sync``: no failure beyond ``baseline-sync.txt``
            and the inherent differences listed in ``engine-differences.txt``.
``native``  as ``engine``, and every sync I/O call of a test runs its native ``async_``
            twin (``native_twins.py``, dispatch counted per twin; a run that dispatches
            nothing fails): no failure beyond those lists and ``native-differences.txt``.
``plain``   sync MongoEngine without the add-on (what ``baseline-sync.txt`` records).

CI leaves ``engine`` out for time: on two busy cores the three runs took 17 minutes
beside the project's 9 minutes of tests.  ``native`` runs every test the way ``engine``
does (``connect_async`` aliases, the test inside ``run_sync``) and checks its inherent
differences too; what only ``engine`` checks is MongoEngine's sync methods called
directly inside ``run_sync`` (tests/engine/test_run_sync.py covers that API).

The unmodified 0.29.3 tests are copied from ``../shared/third_party/mongoengine-0.29.3``
(relative to the repository root; ``MONGOENGINE_TESTS`` overrides the ``tests`` path) to
a temporary directory, and run against a server on port 27017, which they expect.
``--update`` rewrites ``baseline-sync.txt`` from a ``plain`` run.

Nothing it starts outlives it: ``SIGTERM``/``SIGHUP``/``SIGINT`` stop the suite and its
server through the normal cleanup; if this script is killed outright (``SIGKILL``), the
kernel kills them (they are started with ``persistence.testing.bound_processes``); and
if its parent dies (``.ci/run`` killed), this script receives ``SIGTERM``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
from persistence.testing.bound_processes import end_with_parent, spawn_bound  # noqa: E402

PORT = 27017
BASELINE = HERE / "baseline-sync.txt"
PLUGINS = {
    "plain": [],
    "addon": ["-p", "with_addon"],
    "engine": ["-p", "through_engine"],
    "native": ["-p", "through_engine", "-p", "native_twins"],
}
# The inherent differences each mode may show beyond the baseline (files of test ids).
DIFFERENCES = {
    "engine": [HERE / "engine-differences.txt"],
    "native": [HERE / "engine-differences.txt", HERE / "native-differences.txt"],
}
# Modes run by one invocation.
GROUPS = {"ci": ["addon", "native"], "all": ["addon", "engine", "native"]}
# Environment each mode runs with (on top of ours).
MODE_ENV: dict[str, dict[str, str]] = {
    "native": {"PERSISTENCE_CHECKED": "1"},  # the fast paths' checked mode (issue 21)
}
# A run that passes fewer tests than this did not really run (wrong path, import error).
MIN_PASSED = 1000


def tests_dir() -> Path:
    configured = os.environ.get("MONGOENGINE_TESTS")
    path = (
        Path(configured)
        if configured
        else REPO.parent / "shared" / "third_party" / "mongoengine-0.29.3" / "tests"
    )
    if not (path / "document").is_dir():
        sys.exit(f"MongoEngine's tests not found at {path}: set MONGOENGINE_TESTS")
    return path


def read_ids(path: Path) -> dict[str, str]:
    """test id -> reason (the text after ``#``) of a baseline file."""
    ids = {}
    for line in path.read_text().splitlines():
        test_id, _, reason = line.partition("#")
        if test_id.strip():
            ids[test_id.strip()] = reason.strip()
    return ids


def run(mode: str, source: Path) -> tuple[set[str], int, float]:
    """Run the suite in ``mode``: (failing test ids, passed count, seconds)."""
    with tempfile.TemporaryDirectory(prefix=f"mongoengine-{mode}-") as work:
        shutil.copytree(source, Path(work) / "tests")
        (Path(work) / "pytest.ini").write_text("[pytest]\n")
        failures = Path(work) / "failures.txt"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
            "ME_SUITE_FAILURES": str(failures),
            **MODE_ENV.get(mode, {}),
        }
        command = [
            sys.executable, "-m", "pytest", "-q",
            "-p", "no:cacheprovider",
            "-p", "no:persistence",  # the layer's own pytest plugin stays out
            "-p", "outcomes",
            "--tb=line", "-W", "ignore::DeprecationWarning", *PLUGINS[mode], "tests",
        ]  # fmt: skip
        started = time.monotonic()
        process = spawn_bound(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            stdout, stderr = process.communicate()
        except BaseException:  # stopped (a signal): the suite goes too
            process.kill()
            process.wait()
            raise
        elapsed = time.monotonic() - started
        if not failures.exists():
            sys.stdout.write(stdout[-5000:] + stderr[-5000:])
            sys.exit(f"{mode}: pytest did not run (exit {process.returncode})")
        failed = set(failures.read_text().split())
        passed = len(Path(str(failures) + ".passed").read_text().split())
        lines = stdout.strip().splitlines()
        for line in lines:
            if line.startswith("through the engine:"):
                print(f"{mode}: {line}")
                if " 0 sync clients" not in line:  # every connection must be async
                    failed.add("(a sync client was made through the engine)")
        if mode in ("engine", "native") and not any(
            line.startswith("through the engine:") for line in lines
        ):
            failed.add("(the engine plugin did not run)")
        if mode == "native":
            dispatch = [line for line in lines if line.startswith("native dispatch:")]
            for line in dispatch:
                print(f"{mode}: {line}")
            if not dispatch or dispatch[0].split()[2] == "0":
                failed.add("(no sync call was dispatched to its async_ twin)")
        print(f"{mode}: {lines[-1] if lines else ''} [{elapsed:.0f} s]")
        return failed, passed, elapsed


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cleanup (finally blocks)


def main() -> int:
    end_with_parent(signal.SIGTERM)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode", choices=[*GROUPS, "addon", "engine", "native", "plain"], default="ci"
    )
    parser.add_argument("--update", action="store_true", help="rewrite baseline-sync.txt")
    args = parser.parse_args()
    source = tests_dir()
    from persistence.testing.embedded_server import EmbeddedServer

    if not port_free(PORT):
        sys.exit(f"port {PORT} is in use: MongoEngine's suite needs it for its own server")
    if args.update:
        modes = ["plain"]
    else:
        modes = GROUPS.get(args.mode, [args.mode])
    baseline = read_ids(BASELINE)
    server = EmbeddedServer(port=PORT).start()
    ok = True
    try:
        for mode in modes:
            failed, passed, _ = run(mode, source)
            if passed < MIN_PASSED:
                print(f"{mode}: only {passed} tests passed: the suite did not run properly")
                ok = False
            if args.update:
                BASELINE.write_text("".join(f"{test_id}\n" for test_id in sorted(failed)))
                print(f"wrote {len(failed)} ids to {BASELINE.relative_to(REPO)}")
                continue
            listed_in = dict.fromkeys(baseline, BASELINE.name)
            for path in DIFFERENCES.get(mode, []):
                listed_in.update(dict.fromkeys(read_ids(path), path.name))
            new = sorted(failed - set(listed_in))
            for test_id in new:
                print(f"{mode}: NEW FAILURE {test_id}")
            now_passing = sorted(set(listed_in) - failed)
            if now_passing:
                print(f"{mode}: {len(now_passing)} listed tests pass in this mode:")
                for test_id in now_passing:
                    print(f"    {test_id}  (listed in {listed_in[test_id]})")
            ok = ok and not new
    finally:
        server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
