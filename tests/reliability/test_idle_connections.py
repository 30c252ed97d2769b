"""The first write after an idle spell: servers, proxies and load balancers close idle
connections, and PyMongo's async pool does not see it until a command fails on one
(``AutoReconnect: connection is already closed``; inside a transaction nothing retries
it).  ``connect_async`` therefore replaces pooled connections idle for a minute.

The embedded server closes connections idle for 300 s; to see it in seconds the client
goes through a proxy that closes connections idle for 1.5 s, with the client's idle
limit scaled down alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from mongoengine import Document, IntField
from pymongo.errors import AutoReconnect

import persistence.engine  # noqa: F401
from adapters.registry import registry
from domain.entities import User
from persistence.engine import async_run_in_transaction, connect_async, disconnect_async
from persistence.engine.connection import DEFAULT_MAX_IDLE_TIME_MS
from persistence.mongo import MongoUnitOfWork
from persistence.testing import EmbeddedServer, Link, LoopbackProxy

PROXY_IDLE = 1.5  # seconds before the proxy drops a silent connection
IDLE_SPELL = 3.0
ALIAS = "idle"


class IdleClosingProxy(LoopbackProxy):
    """A TCP proxy to ``upstream_port`` that closes connections silent for ``idle`` s."""

    def __init__(self, upstream_port: int, idle: float) -> None:
        super().__init__(upstream_port)
        self.idle = idle
        self.dropped = 0

    def _pipes(self, link: Link) -> list[Coroutine[Any, Any, None]]:
        loop = asyncio.get_running_loop()
        last = loop.time()  # when a byte last passed, either way

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            nonlocal last
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    last = loop.time()
                    target.write(data)
                    await target.drain()

        async def watchdog() -> None:  # ends the connection once it has been silent
            while loop.time() - last <= self.idle:
                await asyncio.sleep(0.1)
            self.dropped += 1

        return [
            pipe(link.client_reader, link.server_writer),
            pipe(link.server_reader, link.client_writer),
            watchdog(),
        ]


class Tick(Document):
    n = IntField()
    meta = {"db_alias": ALIAS}


@pytest.fixture(scope="module")
def server() -> Any:
    with EmbeddedServer() as started:
        yield started


@pytest.fixture
async def proxy(server: EmbeddedServer) -> AsyncIterator[IdleClosingProxy]:
    started = await IdleClosingProxy(server.port, PROXY_IDLE).start()
    try:
        yield started
    finally:
        await started.close()


async def _connect(proxy: IdleClosingProxy, **options: Any) -> Any:
    return await connect_async(
        "idle_db",
        alias=ALIAS,
        host=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
        serverMonitoringMode="poll",  # the monitor's hellos keep its own connection busy
        heartbeatFrequencyMS=500,
        uuidRepresentation="standard",
        **options,
    )


async def test_without_an_idle_limit_the_first_transaction_after_idle_fails(
    proxy: IdleClosingProxy,
) -> None:
    """The cause: a pooled connection the other side closed is used as if alive."""
    client = await _connect(proxy, maxIdleTimeMS=None)
    try:
        await Tick(n=1).async_save()
        await asyncio.sleep(IDLE_SPELL)
        assert proxy.dropped >= 1
        with pytest.raises(AutoReconnect):
            async with async_run_in_transaction(ALIAS):
                await Tick.objects.async_first()
    finally:
        await client.drop_database("idle_db")
        await disconnect_async(ALIAS)


async def test_with_an_idle_limit_below_the_servers_the_first_write_after_idle_succeeds(
    proxy: IdleClosingProxy,
) -> None:
    client = await _connect(proxy, maxIdleTimeMS=int(PROXY_IDLE * 1000 * 0.4))
    try:
        user = User(name="Ann", email="ann@example.com")
        async with MongoUnitOfWork(registry, alias=ALIAS) as uow:
            await uow.users.add(user)
            await uow.commit()
        for spell in range(2):
            await asyncio.sleep(IDLE_SPELL)
            # no retry: the first attempt works
            async with MongoUnitOfWork(registry, alias=ALIAS) as uow:
                stored = await uow.users.get(user.id)
                stored.name = f"Ann {spell}"
                await uow.users.save(stored)
                await uow.commit()
        async with MongoUnitOfWork(registry, alias=ALIAS) as uow:
            assert (await uow.users.get(user.id)).name == "Ann 1"
    finally:
        await client.drop_database("idle_db")
        await disconnect_async(ALIAS)


async def test_connect_async_sets_an_idle_limit_below_the_servers_idle_timeout(
    server: EmbeddedServer,
) -> None:
    from secantus.server import DEFAULT_CLIENT_IDLE_TIMEOUT_S

    assert DEFAULT_MAX_IDLE_TIME_MS < DEFAULT_CLIENT_IDLE_TIMEOUT_S * 1000 / 2
    cases: list[tuple[dict[str, Any], str, float | None]] = [
        ({}, "", DEFAULT_MAX_IDLE_TIME_MS / 1000),
        ({"maxIdleTimeMS": 5000}, "", 5.0),
        ({}, "&maxIdleTimeMS=7000", 7.0),
        ({"maxIdleTimeMS": None}, "", None),
    ]
    for options, query, expected in cases:
        client = await connect_async(
            "idle_db",
            alias=ALIAS,
            host=f"{server.uri}{query}",
            uuidRepresentation="standard",
            **options,
        )
        try:
            assert client.options.pool_options.max_idle_time_seconds == expected
        finally:
            await disconnect_async(ALIAS)
