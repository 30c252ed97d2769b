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
