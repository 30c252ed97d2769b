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

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from .wire_proxy import Link, LoopbackProxy, WireMessage, wire_messages

__all__ = ["ReplyDroppingProxy"]


class ReplyDroppingProxy(LoopbackProxy):
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
        super().__init__(upstream_port, upstream_host=upstream_host)
        self.drop = drop
        self.then = then
        self.times = times
        self.dropped: list[dict[str, Any]] = []
        self._then_failed: BaseException | None = None

    async def close(self) -> None:
        """Stop listening and cut every connection; raises if ``then`` failed."""
        await super().close()
        failed, self._then_failed = self._then_failed, None
        if failed is not None:
            raise RuntimeError("the proxy's `then` failed") from failed

    def _chosen(self, message: WireMessage) -> bool:
        if len(self.dropped) >= self.times:
            return False
        command = message.command()
        if command is None or not self.drop(command):
            return False
        self.dropped.append(command)
        return True

    def _pipes(self, link: Link) -> list[Coroutine[Any, Any, None]]:
        lost: set[int] = set()  # request ids whose replies are dropped

        async def to_server() -> None:
            async for message in wire_messages(link.client_reader):
                if self._chosen(message):
                    lost.add(message.request_id)
                link.server_writer.write(message.raw)
                await link.server_writer.drain()

        async def to_client() -> None:
            async for message in wire_messages(link.server_reader):
                if message.response_to in lost:
                    if self.then is not None:
                        try:
                            await self.then()
                        except Exception as exc:
                            self._then_failed = exc
                    return  # the client's connection closes without the reply
                link.client_writer.write(message.raw)
                await link.client_writer.drain()

        return [to_server(), to_client()]
