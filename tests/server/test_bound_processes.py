"""Nothing the embedded-server launcher starts outlives the process that started it,
however that process ends: the MongoEngine suite's run (``.ci/mongoengine_suite/run.py``
under ``.ci/run``) and a pytest session using the ``mongodb_uri`` fixture, each killed
with ``SIGKILL``, leave no server behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pymongo
import pytest

from eventually import HANG_S

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's"
)

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + HANG_S
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: still not true after {HANG_S:g} s")
        time.sleep(0.05)


def _lines_until_ready(stream: IO[str]) -> dict[str, str]:
    """``name value`` lines a child prints, up to its ``ready`` line."""
    found = {}
    for line in stream:
        name, _, value = line.strip().partition(" ")
        if name == "ready":
            return found
        found[name] = value
    pytest.fail(f"the child ended before it was ready: {found}")


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MONGODB_URI"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def leftovers() -> Iterator[list[Any]]:
    """Processes and storage directories to clean up whatever the test found."""
    found: list[Any] = []
    yield found
    for item in found:
        if isinstance(item, int) and not _gone(item):
            os.kill(item, signal.SIGKILL)
        elif isinstance(item, Path):
            shutil.rmtree(item, ignore_errors=True)


# Started like run.py starts its server (EmbeddedServer(...).start()), once more from a
# worker thread that ends at once: the kernel ties its signal to the starting thread.
LAUNCHER = """
import os, sys, threading, time
from persistence.testing.bound_processes import end_with_parent
from persistence.testing import EmbeddedServer

if "--end-with-parent" in sys.argv:
    end_with_parent()  # what run.py does: .ci/run dying takes it along
servers = [EmbeddedServer().start()]
worker = threading.Thread(target=lambda: servers.append(EmbeddedServer().start()))
worker.start()
worker.join()
print("launcher", os.getpid(), flush=True)
for name, server in zip(("main", "thread"), servers):
    print(name, server.pid, flush=True)
    print(name + "_uri", server.uri, flush=True)
    print(name + "_storage", server.storage_path.parent, flush=True)
print("ready", flush=True)
time.sleep(3600)
"""


def _check_servers_then_kill(
    found: dict[str, str], kill: Callable[[], None], leftovers: list[Any]
) -> None:
    pids = [int(found["main"]), int(found["thread"])]
    leftovers.extend([*pids, int(found["launcher"])])
    leftovers.extend(Path(found[f"{name}_storage"]) for name in ("main", "thread"))
    for name in ("main", "thread"):  # both serve while their process lives
        with pymongo.MongoClient(found[f"{name}_uri"], serverSelectionTimeoutMS=30000) as client:
            assert client.admin.command("ping")["ok"] == 1
    kill()
    for pid in pids:
        _wait_for(lambda pid=pid: _gone(pid), f"server {pid} ended after its parent was killed")


def test_a_killed_launcher_takes_its_servers_along(leftovers: list[Any]) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE, text=True, env=_env()
    )
    leftovers.append(launcher.pid)
    assert launcher.stdout is not None
    found = _lines_until_ready(launcher.stdout)

    def kill() -> None:
        launcher.kill()  # SIGKILL: no cleanup runs in the launcher
        launcher.wait()

    _check_servers_then_kill(found, kill, leftovers)


@pytest.mark.parametrize("bound_by", ["end_with_parent", "run_bound"])
def test_killing_the_ci_script_ends_what_it_started_and_their_servers(
    bound_by: str, leftovers: list[Any]
) -> None:
    """.ci/run (a shell) runs run.py (which calls end_with_parent) and the tests (through
    run_bound) in the background; SIGKILL of the shell ends both, and their servers."""
    if bound_by == "end_with_parent":
        line = '"$0" -c "$1" --end-with-parent & wait'
    else:
        line = '"$0" -m persistence.testing.run_bound "$0" -c "$1" & wait'
    shell = subprocess.Popen(
        ["sh", "-c", line, sys.executable, LAUNCHER],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    leftovers.append(shell.pid)
    assert shell.stdout is not None
    found = _lines_until_ready(shell.stdout)

    def kill() -> None:
        shell.kill()
        shell.wait()

    _check_servers_then_kill(found, kill, leftovers)


def _server_on_port(port: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"secantus" in arg for arg in argv) and b"--port" in argv:
            if argv[argv.index(b"--port") + 1] == str(port).encode():
                return int(entry.name)
    return None


def test_a_killed_pytest_session_takes_its_mongodb_uri_server_along(
    tmp_path: Path, leftovers: list[Any]
) -> None:
    (tmp_path / "conftest.py").write_text("")  # the layer's plugin comes with the install
    (tmp_path / "test_waits.py").write_text(
        textwrap.dedent(
            """
            import time

            def test_waits(mongodb_uri):
                print("uri", mongodb_uri, flush=True)
                print("ready", flush=True)
                time.sleep(3600)
            """
        )
    )
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    leftovers.append(session.pid)
    assert session.stdout is not None
    uri = next(line.split()[-1] for line in session.stdout if line.startswith("uri "))
    port = pymongo.uri_parser.parse_uri(uri)["nodelist"][0][1]
    pid = _server_on_port(port)
    assert pid is not None, f"no server process listens on {port}"
    leftovers.append(pid)
    session.kill()
    session.wait()
    _wait_for(lambda: _gone(pid), f"server {pid} ended after the pytest session was killed")
