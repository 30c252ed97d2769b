"""Helpers to run code and tests against the embedded MongoDB wire server.

Names load on first use (importing the package loads no driver), so the pytest plugin
beside them stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persistence.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from persistence.testing.embedded_server import (
        EmbeddedServer as EmbeddedServer,
    )
    from persistence.testing.embedded_server import (
        ServerTLS as ServerTLS,
    )
    from persistence.testing.embedded_server import (
        async_configure_fail_point as async_configure_fail_point,
    )
    from persistence.testing.embedded_server import (
        async_fail_point as async_fail_point,
    )
    from persistence.testing.embedded_server import (
        configure_fail_point as configure_fail_point,
    )
    from persistence.testing.embedded_server import (
        fail_point as fail_point,
    )
    from persistence.testing.embedded_server import (
        server_uri_from_env_or_start as server_uri_from_env_or_start,
    )
    from persistence.testing.reply_loss import ReplyDroppingProxy as ReplyDroppingProxy
    from persistence.testing.tls import (
        Certificates as Certificates,
    )
    from persistence.testing.tls import (
        make_certificates as make_certificates,
    )
    from persistence.testing.wire_proxy import Link as Link
    from persistence.testing.wire_proxy import LoopbackProxy as LoopbackProxy
    from persistence.testing.wire_proxy import WireMessage as WireMessage
    from persistence.testing.wire_proxy import copy_bytes as copy_bytes
    from persistence.testing.wire_proxy import wire_messages as wire_messages

_HOMES = {
    "EmbeddedServer": "embedded_server",
    "ServerTLS": "embedded_server",
    "async_configure_fail_point": "embedded_server",
    "async_fail_point": "embedded_server",
    "configure_fail_point": "embedded_server",
    "fail_point": "embedded_server",
    "server_uri_from_env_or_start": "embedded_server",
    "ReplyDroppingProxy": "reply_loss",
    "Certificates": "tls",
    "make_certificates": "tls",
    "Link": "wire_proxy",
    "LoopbackProxy": "wire_proxy",
    "WireMessage": "wire_proxy",
    "copy_bytes": "wire_proxy",
    "wire_messages": "wire_proxy",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)
