"""Test marks shared across the suite."""

from __future__ import annotations

import os

import pytest

EMBEDDED = not os.environ.get("MONGODB_URI")


def server_gap(reason: str) -> pytest.MarkDecorator:
    """``xfail(strict=True)`` for a documented embedded-server gap, only on that server.

    Each gap is described, with a PyMongo repro, in docs/server-gaps.md.  With
    ``MONGODB_URI`` set (a real mongod) the mark does nothing and the test must pass.
    """
    if EMBEDDED:
        return pytest.mark.xfail(strict=True, reason=f"embedded server gap: {reason}")
    return pytest.mark.usefixtures()


def backend_gap(
    request: pytest.FixtureRequest,
    backend: str,
    *,
    server: str | None = None,
    mongomock: str | None = None,
) -> None:
    """Mark the running contract test ``xfail(strict=True)`` where a backend has a gap.

    ``server``: a gap of the embedded server (docs/server-gaps.md), marked as
    :func:`server_gap` does, only for the ``mongo`` backend on that server.
    ``mongomock``: a place where mongomock departs from MongoDB (the memory adapter
    follows MongoDB), for the ``mongomock`` backend.
    """
    if backend == "mongo" and server is not None:
        request.applymarker(server_gap(server))
    if backend == "mongomock" and mongomock is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"mongomock gap: {mongomock}"))


def reads_twice_when_checked() -> pytest.MarkDecorator:
    """Skip in checked mode a test that counts the commands a read sends on the wire:
    there MongoEngine's own read runs against the server beside the fast one."""
    from persistence.engine import checked

    return pytest.mark.skipif(
        checked.enabled(),
        reason="checked mode (PERSISTENCE_CHECKED=1) sends each native read twice",
    )
