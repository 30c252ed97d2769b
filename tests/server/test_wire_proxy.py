"""The loopback proxy the fault injectors are built on (persistence.testing.wire_proxy):
it passes a client's traffic through unchanged, a subclass sees whole commands, and a
client is cut off at once when the server cannot be reached or the proxy closes."""

from __future__ import annotations

import socket
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from persistence.testing import Link, LoopbackProxy, copy_bytes, wire_messages


class CommandCounter(LoopbackProxy):
    """The module docstring's example."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.commands: list[str | None] = []

    def _pipes(self, link: Link) -> list[Coroutine[Any, Any, None]]:
        async def to_server() -> None:
            async for message in wire_messages(link.client_reader):
                self.commands.append(message.command_name)
                link.server_writer.write(message.raw)
                await link.server_writer.drain()

        return [to_server(), copy_bytes(link.server_reader, link.client_writer)]


def _port(uri: str) -> int:
    port = urlsplit(uri).port
    assert port is not None
    return port


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_traffic_passes_and_commands_are_seen(mongodb_uri: str) -> None:
    async with CommandCounter(_port(mongodb_uri)) as proxy:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(proxy.uri)
        try:
            records = client.wire_proxy_test.records
            await records.drop()
            await records.insert_many([{"n": n} for n in range(3)])
            found = await records.find({}, {"_id": 0}).sort("n").to_list(None)
            assert found == [{"n": 0}, {"n": 1}, {"n": 2}]
            assert {"insert", "find"} <= set(proxy.commands)
            await records.drop()
        finally:
            await client.close()


async def test_an_unreachable_server_cuts_the_client_off() -> None:
    async with LoopbackProxy(_unused_port()) as proxy:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            proxy.uri, serverSelectionTimeoutMS=500
        )
        try:
            with pytest.raises(ServerSelectionTimeoutError):
                await client.admin.command("ping")
        finally:
            await client.close()


async def test_closing_the_proxy_cuts_open_connections(mongodb_uri: str) -> None:
    proxy = await LoopbackProxy(_port(mongodb_uri)).start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        proxy.uri, serverSelectionTimeoutMS=500, retryReads=False
    )
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
        await proxy.close()
        with pytest.raises((AutoReconnect, ServerSelectionTimeoutError)):
            await client.admin.command("ping")
    finally:
        await client.close()
        await proxy.close()  # a second close is harmless
