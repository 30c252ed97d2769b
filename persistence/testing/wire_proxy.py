"""A loopback TCP proxy to a MongoDB server, the base of the fault injectors in tests.

:class:`LoopbackProxy` listens on a free loopback port and opens one upstream connection
per client connection; a subclass says what flows between the two (:meth:`_pipes`: the
connection ends when the first of them returns).  :func:`wire_messages` reads whole
wire-protocol messages, so a subclass can look at commands and replies::

    class CommandCounter(LoopbackProxy):
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
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import attrs
import bson

__all__ = [
    "OP_MSG",
    "Link",
    "LoopbackProxy",
    "WireMessage",
    "command_of",
    "copy_bytes",
    "wire_messages",
]

HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
OP_MSG = 2013

_Proxy = TypeVar("_Proxy", bound="LoopbackProxy")


def command_of(body: bytes) -> dict[str, Any] | None:
    """The command document (section kind 0) of an ``OP_MSG`` body, after the header."""
    position = 4  # flagBits
    while position < len(body):
        kind = body[position]
        position += 1
        (size,) = struct.unpack_from("<i", body, position)
        if kind == 0:
            return bson.decode(body[position : position + size])
        position += size  # a document sequence (kind 1): its size counts itself
    return None


@attrs.frozen
class WireMessage:
    """One whole message of the wire protocol, as read from a connection."""

    header: bytes
    body: bytes
    request_id: int
    response_to: int
    op_code: int

    @property
    def raw(self) -> bytes:
        """The message's bytes, to pass on unchanged."""
        return self.header + self.body

    @property
    def command_name(self) -> str | None:
        """An ``OP_MSG``'s command name (the first key of its kind-0 section), cheaply."""
        body = self.body
        if self.op_code != OP_MSG or len(body) < 10 or body[4] != 0:
            return None
        start = 4 + 1 + 4 + 1  # flagBits, section kind, document length, first type byte
        end = body.find(b"\0", start)
        return body[start:end].decode("utf-8", "replace") if end > 0 else None

    def command(self) -> dict[str, Any] | None:
        """An ``OP_MSG``'s whole command document, decoded."""
        return command_of(self.body) if self.op_code == OP_MSG else None


async def wire_messages(reader: asyncio.StreamReader) -> AsyncIterator[WireMessage]:
    """Each whole wire message read from ``reader``, until the connection closes."""
    while True:
        try:
            header = await reader.readexactly(HEADER.size)
            length, request_id, response_to, op_code = HEADER.unpack(header)
            body = await reader.readexactly(length - HEADER.size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        yield WireMessage(header, body, request_id, response_to, op_code)


async def copy_bytes(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    """Pass everything from ``source`` to ``target`` until ``source`` closes."""
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            target.write(data)
            await target.drain()


@attrs.frozen
class Link:
    """One proxied connection: the client's side and the server's."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_reader: asyncio.StreamReader
    server_writer: asyncio.StreamWriter


class LoopbackProxy:
    """A TCP proxy on a free loopback port to ``upstream_host:upstream_port``.

    Each client connection gets its own upstream connection; when the upstream cannot be
    reached (the server is down) the client's connection is closed at once.  ``close()``
    stops listening and cuts every connection.
    """

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def uri(self) -> str:
        """A direct connection string through the proxy."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    async def start(self: _Proxy) -> _Proxy:
        """Listen; returns ``self``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self: _Proxy) -> _Proxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _pipes(self, link: Link) -> list[Coroutine[Any, Any, None]]:
        """What runs for one connection, until the first of them returns: by default the
        bytes, both ways, unchanged."""
        return [
            copy_bytes(link.client_reader, link.server_writer),
            copy_bytes(link.server_reader, link.client_writer),
        ]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        pipes: list[asyncio.Task[None]] = []
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            link = Link(reader, writer, up_reader, up_writer)
            pipes = [asyncio.create_task(pipe) for pipe in self._pipes(link)]
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass  # the server is down, or the proxy is closing
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            writer.close()
            if up_writer is not None:
                up_writer.close()
            self._handlers.discard(task)
