"""Helpers to run code and tests against the embedded MongoDB wire server."""

from .embedded_server import (
    EmbeddedServer,
    ServerTLS,
    async_configure_fail_point,
    async_fail_point,
    configure_fail_point,
    fail_point,
    server_uri_from_env_or_start,
)
from .reply_loss import ReplyDroppingProxy
from .tls import Certificates, make_certificates

__all__ = [
    "Certificates",
    "EmbeddedServer",
    "ReplyDroppingProxy",
    "ServerTLS",
    "async_configure_fail_point",
    "async_fail_point",
    "configure_fail_point",
    "fail_point",
    "make_certificates",
    "server_uri_from_env_or_start",
]
