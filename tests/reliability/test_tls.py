"""``connect_async`` over TLS to the embedded server, with certificates made at run time
(``persistence.testing.make_certificates``, the openssl command line): with a CA file,
and with a client certificate the server requires.  A CA that did not sign the server's
certificate, or no client certificate where one is required, fails within
``serverSelectionTimeoutMS``: PyMongo's ``ServerSelectionTimeoutError`` from the engine,
``StoreUnavailable`` naming the TLS handshake from the repositories.  Never a hang."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pymongo
import pytest
from mongoengine import Document, StringField
from pymongo.errors import PyMongoError, ServerSelectionTimeoutError

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from eventually import until
from persistence.engine import connect_async, disconnect_async, get_async_connection
from persistence.errors import StoreUnavailable
from persistence.mongo import MongoUnitOfWork
from persistence.testing import Certificates, EmbeddedServer, ServerTLS, make_certificates

ALIAS = "tls"
QUICK = {"serverSelectionTimeoutMS": 1000}


async def _handshake_tried(alias: str) -> None:
    """Wait until the client's monitor has tried the server once: a failure then names
    what the handshake met, however long the handshake took on a busy machine (with a
    short selection timeout it could otherwise end before the first try did)."""
    client = get_async_connection(alias)
    with contextlib.suppress(PyMongoError):
        await client.admin.command("ping")  # opens the client; fails
    await until(
        lambda: any(
            server.error is not None
            for server in client.topology_description.server_descriptions().values()
        ),
        "the monitor's first try",
    )


class Secret(Document):
    text = StringField(required=True)
    meta = {"db_alias": ALIAS}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CA of another, unrelated set: it did not sign the server's certificate."""
    return make_certificates(tmp_path_factory.mktemp("tls-other")).ca_file


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates) -> Iterator[EmbeddedServer]:
    """TLS only; the server checks a client certificate if one is offered."""
    with EmbeddedServer(tls=certificates.server_tls()) as server:
        yield server


@pytest.fixture(scope="module")
def mtls_server(certificates: Certificates) -> Iterator[EmbeddedServer]:
    """TLS only, and every client must present a certificate signed by the CA."""
    with EmbeddedServer(tls=certificates.server_tls(require_client_cert=True)) as server:
        yield server


def _address(server: EmbeddedServer) -> str:
    """The server's address without the launcher's TLS options."""
    return f"mongodb://{server.host}:{server.port}/?directConnection=true"


@pytest.fixture
async def alias() -> AsyncIterator[str]:
    yield ALIAS
    await disconnect_async(ALIAS)


async def _round_trip() -> list[str]:
    await Secret(text="over TLS").async_save()
    return [s.text async for s in Secret.objects]


async def test_connect_async_with_a_ca_file(
    tls_server: EmbeddedServer, certificates: Certificates, alias: str
) -> None:
    await connect_async(
        "tls_db",
        alias=alias,
        host=_address(tls_server),
        tls=True,
        tlsCAFile=str(certificates.ca_file),
    )
    assert await _round_trip() == ["over TLS"]
    with pymongo.MongoClient(
        _address(tls_server) + "&tls=true", tlsCAFile=str(certificates.ca_file)
    ) as client:
        assert [d["text"] for d in client.tls_db.secret.find()] == ["over TLS"]  # stored
        client.drop_database("tls_db")


async def test_connect_async_with_a_client_certificate_in_the_uri(
    mtls_server: EmbeddedServer, certificates: Certificates, alias: str
) -> None:
    """The TLS options as URI options, the form a deployment's connection string has."""
    # .../tls_db?directConnection=true&tls=true&tlsCAFile=...&tlsCertificateKeyFile=...
    uri = mtls_server.uri.replace("?", "tls_db?", 1)
    assert "tlsCertificateKeyFile=" in uri
    await connect_async(alias=alias, host=uri)
    assert await _round_trip() == ["over TLS"]
    async with MongoUnitOfWork(registry, alias=alias) as uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    async with MongoUnitOfWork(registry, alias=alias).reading() as uow:
        assert [u.name for u in await uow.users.find()] == ["Ann"]
    with pymongo.MongoClient(mtls_server.uri) as client:
        client.drop_database("tls_db")


async def test_a_ca_that_did_not_sign_the_server_fails_clearly(
    tls_server: EmbeddedServer, other_ca: Path, alias: str
) -> None:
    await connect_async(
        "tls_db", alias=alias, host=_address(tls_server), tls=True, tlsCAFile=str(other_ca), **QUICK
    )
    await _handshake_tried(alias)
    with pytest.raises(ServerSelectionTimeoutError, match="CERTIFICATE_VERIFY_FAILED"):
        await Secret(text="never").async_save()
    await _refused_by_the_repositories(alias)


async def test_no_client_certificate_where_one_is_required_fails_clearly(
    mtls_server: EmbeddedServer, certificates: Certificates, alias: str
) -> None:
    await connect_async(
        "tls_db",
        alias=alias,
        host=_address(mtls_server),
        tls=True,
        tlsCAFile=str(certificates.ca_file),
        **QUICK,
    )
    # TLS 1.3: the server refuses after the client's side of the handshake, so PyMongo
    # reports the certificate alert or a closed connection, whichever it reads first
    with pytest.raises(ServerSelectionTimeoutError):
        await Secret.objects.async_count()
    await _refused_by_the_repositories(alias, handshake_named=False)


async def test_plain_text_to_a_tls_server_fails_within_the_timeout(
    tls_server: EmbeddedServer, alias: str
) -> None:
    await connect_async("tls_db", alias=alias, host=_address(tls_server), **QUICK)
    with pytest.raises(ServerSelectionTimeoutError):
        await Secret.objects.async_count()
    with pytest.raises(StoreUnavailable) as raised:
        async with MongoUnitOfWork(registry, alias=alias) as uow:
            await uow.users.count()  # pragma: no cover - the block cannot start
    assert raised.value.retry_safe


async def _refused_by_the_repositories(alias: str, *, handshake_named: bool = True) -> None:
    """A unit of work and a reading one both fail with ``StoreUnavailable``, retry-safe
    (nothing was sent); it names the failed TLS handshake when PyMongo reported one."""
    with pytest.raises(StoreUnavailable) as writing:
        async with MongoUnitOfWork(registry, alias=alias) as uow:
            await uow.users.add(User(name="Ann", email="ann@example.com"))
    with pytest.raises(StoreUnavailable) as reading:
        async with MongoUnitOfWork(registry, alias=alias).reading() as uow:
            await uow.users.count()
    for raised in (writing, reading):
        assert raised.value.retry_safe
        if handshake_named:
            message = str(raised.value)
            assert "TLS handshake failed" in message and "tlsCAFile" in message


def test_requiring_client_certificates_needs_a_ca_and_the_launchers_own(
    certificates: Certificates,
) -> None:
    base = {
        "cert_file": certificates.server_cert_file,
        "key_file": certificates.server_key_file,
        "ca_file": certificates.ca_file,
        "require_client_cert": True,
    }
    with pytest.raises(ValueError, match="client_ca_file"):
        EmbeddedServer(tls=ServerTLS(**base, client_cert_file=certificates.client_cert_file))
    with pytest.raises(ValueError, match="client_cert_file"):
        EmbeddedServer(tls=ServerTLS(**base, client_ca_file=certificates.ca_file))
