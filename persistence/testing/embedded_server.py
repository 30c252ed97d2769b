"""Start the embedded SecantusDB server (``secantusd-py``) as a subprocess.

It speaks the MongoDB wire protocol, runs as a single-node replica set (transactions
work) and, with ``--enable-test-commands``, honours ``configureFailPoint``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymongo

__all__ = [
    "EmbeddedServer",
    "async_configure_fail_point",
    "configure_fail_point",
    "fail_point",
    "server_uri_from_env_or_start",
]

EXECUTABLE = "secantusd-py"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable() -> str:
    beside = Path(sys.executable).with_name(EXECUTABLE)
    if beside.exists():
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise RuntimeError(
            f"{EXECUTABLE} not found: install the test extra (pip install -e '.[test]') "
            "or set MONGODB_URI"
        )
    return found


class EmbeddedServer:
    """A SecantusDB server on a free loopback port with its own storage directory."""

    def __init__(
        self,
        *,
        port: int | None = None,
        storage_path: str | os.PathLike[str] | None = None,
        auth: bool = False,
        extra_args: Sequence[str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        self._own_dir = tempfile.mkdtemp(prefix="secantus-")
        self.storage_path = str(storage_path or Path(self._own_dir) / "data")
        self.log_path = Path(self._own_dir) / "server.log"
        self.auth = auth
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    @property
    def uri(self) -> str:
        """A connection string for this server."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> EmbeddedServer:
        """Start the process and wait until it answers ``hello``."""
        if self.running:
            return self
        args = [
            _executable(),
            "--host", self.host,
            "--port", str(self.port),
            "--storage-path", self.storage_path,
            "--enable-test-commands",
            "--log-level", "WARNING",
        ]
        if self.auth:
            args.append("--auth")
        args.extend(self.extra_args)
        log = open(self.log_path, "ab")
        try:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{EXECUTABLE} exited with code {self._process.returncode}:\n"
                    + self._log_tail()
                )
            try:
                with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("hello")
                return self
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"{EXECUTABLE} did not answer within {self.start_timeout}s:\n"
                        + self._log_tail()
                    ) from None
                time.sleep(0.2)

    def stop(self, *, keep_storage: bool = False) -> None:
        """Stop the process; remove the storage unless ``keep_storage``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if not keep_storage:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def restart(self) -> EmbeddedServer:
        """Stop and start again on the same port and storage."""
        self.stop(keep_storage=True)
        return self.start()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_uri_from_env_or_start() -> tuple[str, EmbeddedServer | None]:
    """``MONGODB_URI`` if set, else the URI of a newly started embedded server."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        return uri, None
    server = EmbeddedServer().start()
    return server.uri, server


def _fail_point_command(
    name: str, mode: Any, data: Mapping[str, Any] | None
) -> dict[str, Any]:
    command: dict[str, Any] = {"configureFailPoint": name, "mode": mode}
    if data is not None:
        command["data"] = dict(data)
    return command


def configure_fail_point(
    client: pymongo.MongoClient[Any] | str,
    name: str = "failCommand",
    mode: Any = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> None:
    """Arm (or with ``mode="off"`` disarm) a server fail point."""
    if isinstance(client, str):
        with pymongo.MongoClient(client) as owned:
            owned.admin.command(_fail_point_command(name, mode, data))
    else:
        client.admin.command(_fail_point_command(name, mode, data))


async def async_configure_fail_point(
    client: Any,
    name: str = "failCommand",
    mode: Any = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> None:
    """:func:`configure_fail_point` for an ``AsyncMongoClient``."""
    await client.admin.command(_fail_point_command(name, mode, data))


@contextmanager
def fail_point(
    client: pymongo.MongoClient[Any] | str,
    name: str = "failCommand",
    mode: Any = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Arm a fail point for the block; always turned off afterwards."""
    configure_fail_point(client, name, mode, data)
    try:
        yield
    finally:
        configure_fail_point(client, name, "off")
