"""Start the embedded SecantusDB server (``secantusd-py``) as a subprocess.

It speaks the MongoDB wire protocol, runs as a single-node replica set (transactions
work) and, with ``--enable-test-commands``, honours ``configureFailPoint``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pymongo
from pymongo.errors import PyMongoError

from persistence.testing.bound_processes import spawn_bound

__all__ = [
    "EmbeddedServer",
    "ServerTLS",
    "async_configure_fail_point",
    "async_fail_point",
    "configure_fail_point",
    "fail_point",
    "server_uri_from_env_or_start",
]

EXECUTABLE = "secantusd-py"
STOP_TIMEOUT = 10.0
# each readiness probe waits longer than the one before, up to the last: a server that is
# alive but starved of CPU still gets a probe long enough to answer
_FIRST_PROBE_MS = 500
_LAST_PROBE_MS = 8_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable() -> str:
    """``secantusd-py`` beside the running interpreter (the venv), else on ``PATH``."""
    beside = Path(sys.executable).with_name(EXECUTABLE)
    if beside.exists():
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise RuntimeError(
            f"{EXECUTABLE} not found: install the testing extra "
            "(pip install 'mongo-persistence[testing]') or set MONGODB_URI"
        )
    return found


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``, killing it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


Pem = str | os.PathLike[str]


@dataclass(frozen=True)
class ServerTLS:
    """TLS for :class:`EmbeddedServer`: the server accepts TLS connections only.

    ``cert_file`` / ``key_file``: the server's certificate chain and private key (PEM;
    ``--tls-cert-file`` / ``--tls-key-file``).  ``client_ca_file``: the server asks
    clients for a certificate and checks it against this CA (``--tls-ca-file``);
    ``require_client_cert`` refuses clients without one (``--tls-require-client-cert``).

    How the launcher's own clients connect (its readiness check and
    :attr:`EmbeddedServer.uri`): ``ca_file`` is the CA they trust (``tlsCAFile``), and
    ``client_cert_file`` the certificate and key they present (``tlsCertificateKeyFile``).
    :func:`persistence.testing.tls.make_certificates` makes a set for tests.
    """

    cert_file: Pem
    key_file: Pem
    ca_file: Pem
    client_ca_file: Pem | None = None
    require_client_cert: bool = False
    client_cert_file: Pem | None = None

    def check(self) -> None:
        """``ValueError`` for options that cannot work together."""
        if self.require_client_cert and self.client_ca_file is None:
            raise ValueError("require_client_cert needs client_ca_file: the CA to check against")
        if self.require_client_cert and self.client_cert_file is None:
            raise ValueError(
                "require_client_cert needs client_cert_file: the launcher connects with it"
            )

    def server_args(self) -> list[str]:
        """The ``secantusd-py`` flags."""
        args = ["--tls-cert-file", str(self.cert_file), "--tls-key-file", str(self.key_file)]
        if self.client_ca_file is not None:
            args += ["--tls-ca-file", str(self.client_ca_file)]
        if self.require_client_cert:
            args.append("--tls-require-client-cert")
        return args

    def uri_options(self) -> str:
        """The connection-string options of the launcher's clients."""
        options = f"&tls=true&tlsCAFile={quote(str(self.ca_file), safe='/')}"
        if self.client_cert_file is not None:
            options += f"&tlsCertificateKeyFile={quote(str(self.client_cert_file), safe='/')}"
        return options


class EmbeddedServer:
    """A SecantusDB server on a loopback port with its own storage directory.

    The port is chosen once, so :meth:`restart` comes back on the same address and
    storage.  A storage directory of our own is removed by :meth:`stop`; one passed in
    is kept.  A finalizer stops the process at interpreter exit, and if this process is
    killed instead (``SIGKILL`` included) the kernel kills the server (Linux; see
    :mod:`.bound_processes`), so none survives us.
    ``auth`` may be changed between runs (provision users, then restart with auth).

    ``durable`` (default: True when ``storage_path`` is given, False for our own
    throwaway directory) starts the server with ``--sync-on-commit``, so every commit
    is on disk before it is acknowledged and survives a crash (see docs/reliability.md:
    this server does not yet honour ``j: true`` on ``commitTransaction``).

    ``tls`` (a :class:`ServerTLS`) makes it accept TLS connections only; :attr:`uri`
    then carries the TLS options of the launcher's clients.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        storage_path: str | os.PathLike[str] | None = None,
        auth: bool = False,
        durable: bool | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 120.0,
        tls: ServerTLS | None = None,
    ) -> None:
        self._host = "127.0.0.1"
        self._port = port or _free_port()
        self._work_dir = Path(tempfile.mkdtemp(prefix="secantus-"))
        self._storage_path = Path(storage_path) if storage_path else self._work_dir / "data"
        self.log_path = self._work_dir / "server.log"
        self.auth = auth
        self.durable = storage_path is not None if durable is None else durable
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        if tls is not None:
            tls.check()
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None
        self._stop_process: weakref.finalize[Any, Any] | None = None
        weakref.finalize(self, shutil.rmtree, str(self._work_dir), ignore_errors=True)

    @property
    def host(self) -> str:
        """The loopback address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The TCP port, the same across restarts."""
        return self._port

    @property
    def storage_path(self) -> Path:
        """The server's storage directory."""
        return self._storage_path

    @property
    def uri(self) -> str:
        """A direct connection string for this server (with ``tls``, its TLS options)."""
        uri = f"mongodb://{self._host}:{self._port}/?directConnection=true"
        return uri if self.tls is None else uri + self.tls.uri_options()

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs, else None."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _command_line(self) -> list[str]:
        config = self._work_dir / "secantusd.toml"  # empty: no config auto-discovery
        config.touch()
        args = [
            _executable(),
            "--config", str(config),
            "--host", self._host,
            "--port", str(self._port),
            "--storage-path", str(self._storage_path),
            "--enable-test-commands",
            "--log-level", "WARNING",
        ]  # fmt: skip
        if self.auth:
            args.append("--auth")
        if self.durable:
            args.append("--sync-on-commit")
        if self.tls is not None:
            args.extend(self.tls.server_args())
        args.extend(self.extra_args)
        return args

    def start(self) -> EmbeddedServer:
        """Start the process and wait until it answers ``hello``."""
        if self.running:
            return self
        self._work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # killed by the kernel if this process dies without stopping it (SIGKILL...)
            process = spawn_bound(
                self._command_line(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._process = process
        self._stop_process = weakref.finalize(self, _terminate, process)
        deadline = time.monotonic() + self.start_timeout
        probe_ms = _FIRST_PROBE_MS
        while True:
            if process.poll() is not None:
                self._process = None
                raise RuntimeError(
                    f"{EXECUTABLE} exited with code {process.returncode}; log tail:\n"
                    + self._log_tail()
                )
            try:
                client: pymongo.MongoClient[dict[str, Any]]
                with pymongo.MongoClient(
                    self.uri, serverSelectionTimeoutMS=probe_ms, connectTimeoutMS=probe_ms
                ) as client:
                    client.admin.command("hello")
                return self
            except PyMongoError:
                if time.monotonic() > deadline:
                    self.stop(keep_storage=True)
                    raise RuntimeError(
                        f"{EXECUTABLE} did not answer within {self.start_timeout}s; log tail:\n"
                        + self._log_tail()
                    ) from None
                probe_ms = min(probe_ms * 2, _LAST_PROBE_MS)  # a starved machine answers late
                time.sleep(0.1)

    def stop(self, *, keep_storage: bool = False) -> None:
        """Stop the process (terminate, then kill); remove our own storage unless kept."""
        self._process = None
        if self._stop_process is not None:
            self._stop_process()  # runs at most once
            self._stop_process = None
        if not keep_storage:
            shutil.rmtree(self._work_dir, ignore_errors=True)  # log; storage if our own

    def kill(self) -> None:
        """Crash the server: ``SIGKILL`` its process (no shutdown, no checkpoint) and
        wait for it; the storage stays for :meth:`start` to recover."""
        process, self._process = self._process, None
        if self._stop_process is not None:
            self._stop_process.detach()
            self._stop_process = None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> EmbeddedServer:
        """Stop and start again on the same port and storage."""
        self.stop(keep_storage=True)
        return self.start()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_uri_from_env_or_start() -> tuple[str, EmbeddedServer | None]:
    """``MONGODB_URI`` and None if set, else a started embedded server's URI and itself."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        return uri, None
    server = EmbeddedServer().start()
    return server.uri, server


def _fail_point_command(name: str, mode: Any, data: Mapping[str, Any] | None) -> dict[str, Any]:
    command: dict[str, Any] = {"configureFailPoint": name, "mode": mode}
    if data is not None:
        command["data"] = dict(data)
    return command


def configure_fail_point(
    uri_or_client: pymongo.MongoClient[Any] | str,
    name: str = "failCommand",
    mode: str | Mapping[str, Any] = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> None:
    """Arm (or with ``mode="off"`` disarm) a server fail point.

    ``mode`` is ``"alwaysOn"``, ``"off"`` or e.g. ``{"times": 1}``; for ``failCommand``,
    ``data`` holds ``failCommands``, ``errorCode``, ``blockConnection``/``blockTimeMS``...
    Prefer a non-state-change ``errorCode`` (e.g. 2): codes such as 91 or 10107 make
    PyMongo mark the server Unknown, and its streaming monitor may take up to
    ``heartbeatFrequencyMS`` (10 s) to rediscover it.
    """
    command = _fail_point_command(name, mode, data)
    if isinstance(uri_or_client, str):
        client: pymongo.MongoClient[dict[str, Any]]
        with pymongo.MongoClient(uri_or_client) as client:
            client.admin.command(command)
    else:
        uri_or_client.admin.command(command)


async def async_configure_fail_point(
    client: pymongo.AsyncMongoClient[Any],
    name: str = "failCommand",
    mode: str | Mapping[str, Any] = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> None:
    """:func:`configure_fail_point` for an ``AsyncMongoClient``."""
    await client.admin.command(_fail_point_command(name, mode, data))


@contextmanager
def fail_point(
    uri_or_client: pymongo.MongoClient[Any] | str,
    name: str = "failCommand",
    mode: str | Mapping[str, Any] = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Arm a fail point for the block; it is turned off afterwards, whatever happens."""
    configure_fail_point(uri_or_client, name, mode, data)
    try:
        yield
    finally:
        configure_fail_point(uri_or_client, name, "off")


@asynccontextmanager
async def async_fail_point(
    client: pymongo.AsyncMongoClient[Any],
    name: str = "failCommand",
    mode: str | Mapping[str, Any] = "alwaysOn",
    data: Mapping[str, Any] | None = None,
) -> AsyncIterator[None]:
    """:func:`fail_point` for an ``AsyncMongoClient``."""
    await async_configure_fail_point(client, name, mode, data)
    try:
        yield
    finally:
        await async_configure_fail_point(client, name, "off")
