"""Certificates for testing TLS, made at run time with the ``openssl`` command line.

``make_certificates(directory)`` writes a throwaway certificate authority, a server
certificate for ``127.0.0.1`` and ``localhost`` and a client certificate, both signed by
that authority; :meth:`Certificates.server_tls` turns them into the embedded server's
TLS options.  Two calls give two unrelated authorities (a "wrong CA" for a test).
Never use these outside tests: the keys are unencrypted and the names are loopback.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from persistence.testing.embedded_server import ServerTLS

__all__ = ["Certificates", "make_certificates"]

_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


@dataclass(frozen=True)
class Certificates:
    """PEM files written by :func:`make_certificates`."""

    ca_file: Path
    """The authority's certificate: what clients trust (PyMongo's ``tlsCAFile``)."""
    server_cert_file: Path
    """The server's certificate, for ``127.0.0.1`` and ``localhost``."""
    server_key_file: Path
    """The server certificate's private key."""
    client_cert_file: Path
    """A client certificate and its key in one file (PyMongo's ``tlsCertificateKeyFile``)."""

    def server_tls(self, *, require_client_cert: bool = False) -> ServerTLS:
        """TLS options for :class:`~persistence.testing.EmbeddedServer`: the server
        presents its certificate and checks client certificates against the authority
        (all of them if ``require_client_cert``); the launcher presents the client one."""
        return ServerTLS(
            cert_file=self.server_cert_file,
            key_file=self.server_key_file,
            ca_file=self.ca_file,
            client_ca_file=self.ca_file,
            require_client_cert=require_client_cert,
            client_cert_file=self.client_cert_file,
        )


def _openssl(*args: str, cwd: Path) -> None:
    executable = shutil.which("openssl")
    if executable is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    subprocess.run([executable, *args], cwd=cwd, check=True, capture_output=True)


def _signed(directory: Path, name: str, subject: str, extensions: str, days: int) -> None:
    """``<name>.pem`` and ``<name>.key``: a certificate signed by ``ca.pem``."""
    (directory / f"{name}.ext").write_text(_LEAF_EXTENSIONS + extensions)
    _openssl(
        "req", *_CURVE, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(days),
        "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


def make_certificates(directory: str | os.PathLike[str], *, days: int = 2) -> Certificates:
    """Write a new authority and a server and a client certificate into ``directory``
    (created if missing), valid for ``days`` days."""
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", *_CURVE, "-keyout", "ca.key", "-out", "ca.pem", "-days", str(days),
        "-subj", f"/CN=mongo-persistence test CA {secrets.token_hex(4)}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=where,
    )  # fmt: skip
    _signed(
        where, "server", "/CN=localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", days,
    )  # fmt: skip
    _signed(where, "client", "/CN=test-client", "extendedKeyUsage=clientAuth\n", days)
    client = where / "client-with-key.pem"
    client.write_text((where / "client.pem").read_text() + (where / "client.key").read_text())
    return Certificates(
        ca_file=where / "ca.pem",
        server_cert_file=where / "server.pem",
        server_key_file=where / "server.key",
        client_cert_file=client,
    )
