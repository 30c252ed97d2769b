"""Child processes that end with the process that started them, however it ends.

A server or test run started for a test session must not outlive it: not when the
session ends normally (its own code stops them), and not when it is killed, even with
``SIGKILL``, which runs no cleanup.  On Linux the kernel does it: a process can ask for a
signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``).

:func:`spawn_bound` starts a command that way.  The command runs behind a tiny exec
wrapper (a ``python -c`` that sets the signal, checks the parent is still there, then
``exec``\\ s the command in place), so nothing runs in the forked child before ``exec``.
The kernel ties the signal to the *thread* that started the child, so every bound child
is started from one daemon thread that lives as long as the process: a server started
from a worker thread (``asyncio.to_thread``) does not die with that thread.

:func:`end_with_parent` asks the same for the calling process itself (CI scripts started
by a shell), and ``python -m persistence.testing.run_bound COMMAND...`` runs a command
that way (``SIGTERM`` when the shell that started it dies).  Elsewhere than
Linux all of these only start or do nothing.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["end_with_parent", "spawn_bound"]

_PR_SET_PDEATHSIG = 1
_SUPPORTED = sys.platform.startswith("linux")

# argv: parent pid, signal number, the command.  Exits if the parent is already gone.
_WRAPPER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, int(sys.argv[2]), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(70)\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)


def bound_command(command: Sequence[str], sig: int = signal.SIGKILL) -> list[str]:
    """``command`` behind the wrapper that makes it receive ``sig`` when this process
    dies (unchanged where the kernel has no such feature)."""
    if not _SUPPORTED:
        return list(command)
    return [sys.executable, "-I", "-S", "-c", _WRAPPER, str(os.getpid()), str(int(sig)), *command]


class _Launcher(threading.Thread):
    """The daemon thread every bound child is started from (it lives until exit)."""

    def __init__(self) -> None:
        super().__init__(name="persistence-bound-processes", daemon=True)
        self.requests: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            args, kwargs, done, outcome = self.requests.get()
            try:
                outcome.append(subprocess.Popen(*args, **kwargs))
            except BaseException as error:  # handed back to the caller, which raises it
                outcome.append(error)
            done.set()


_launcher: _Launcher | None = None
_launcher_lock = threading.Lock()


def _launch(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    global _launcher
    with _launcher_lock:
        if _launcher is None or not _launcher.is_alive():
            _launcher = _Launcher()
            _launcher.start()
        launcher = _launcher
    done = threading.Event()
    outcome: list[Any] = []
    launcher.requests.put((args, kwargs, done, outcome))
    done.wait()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]  # type: ignore[no-any-return]


def spawn_bound(
    command: Sequence[str], *, sig: int = signal.SIGKILL, **popen_kwargs: Any
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(command, **popen_kwargs)``, the child receiving ``sig``
    (default ``SIGKILL``) when this process ends, however it ends (Linux)."""
    if not _SUPPORTED:
        return subprocess.Popen(list(command), **popen_kwargs)
    return _launch(bound_command(command, sig), **popen_kwargs)


def end_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have this process receive ``sig`` when its parent process dies (Linux; nothing
    elsewhere).  Exits at once if the parent is already gone."""
    if not _SUPPORTED:
        return
    parent = os.getppid()
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(f"parent process {parent} is gone")

