"""A loopback proxy that loses the server's reply to chosen commands: a fault injector.

A command whose reply is lost took effect on the server, but the client only sees its
connection close, so it cannot know the outcome: what a crash or a network cut right
after the server acted looks like.  With ``then`` the proxy does something before the
client notices (restart the server, say), which makes such races deterministic::

    server = EmbeddedServer(storage_path=path).start()
    proxy = await ReplyDroppingProxy(
        server.port,
        drop=lambda command: command.get("insert") == "fs.chunks",
        then=lambda: asyncio.to_thread(server.restart),
    ).start()
    client = AsyncMongoClient(proxy.uri)  # the first chunk insert's reply is lost

Only ``OP_MSG`` commands are looked at (what drivers send; without compression).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import bson

__all__ = ["ReplyDroppingProxy"]

_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_OP_MSG = 2013


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


class ReplyDroppingProxy:
    """A TCP proxy on a free loopback port to ``upstream_port``.

    For the first ``times`` commands ``drop(command)`` accepts, the command goes to the
    server, its reply is read and thrown away, ``then()`` is awaited, and the client's
    connection is closed.  ``dropped`` lists those commands.  Everything else passes.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        drop: Callable[[Mapping[str, Any]], bool],
        then: Callable[[], Awaitable[Any]] | None = None,
        times: int = 1,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.drop = drop
        self.then = then
        self.times = times
        self.dropped: list[dict[str, Any]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._then_failed: BaseException | None = None

    @property
    def uri(self) -> str:
        """A direct connection string through the proxy."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    async def start(self) -> ReplyDroppingProxy:
        """Listen; returns ``self``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut every connection; raises if ``then`` failed."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        failed, self._then_failed = self._then_failed, None
        if failed is not None:
            raise RuntimeError("the proxy's `then` failed") from failed

    async def __aenter__(self) -> ReplyDroppingProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _chosen(self, body: bytes) -> bool:
        if len(self.dropped) >= self.times:
            return False
        command = command_of(body)
        if command is None or not self.drop(command):
            return False
        self.dropped.append(command)
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        lost: set[int] = set()  # request ids whose replies are dropped

        async def to_server(upstream: asyncio.StreamWriter) -> None:
            while True:
                header = await reader.readexactly(_HEADER.size)
                length, request_id, _, op_code = _HEADER.unpack(header)
                body = await reader.readexactly(length - _HEADER.size)
                if op_code == _OP_MSG and self._chosen(body):
                    lost.add(request_id)
                upstream.write(header + body)
                await upstream.drain()

        async def to_client(upstream: asyncio.StreamReader) -> None:
            while True:
                header = await upstream.readexactly(_HEADER.size)
                length, _, response_to, _ = _HEADER.unpack(header)
                body = await upstream.readexactly(length - _HEADER.size)
                if response_to in lost:
                    if self.then is not None:
                        try:
                            await self.then()
                        except Exception as exc:
                            self._then_failed = exc
                    return  # the client's connection closes without the reply
                writer.write(header + body)
                await writer.drain()

        pipes: list[asyncio.Task[None]] = []
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            pipes = [
                asyncio.create_task(to_server(up_writer)),
                asyncio.create_task(to_client(up_reader)),
            ]
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
