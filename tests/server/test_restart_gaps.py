"""What a server remembers across a restart (docs/server-gaps.md).

These tests restart a server, so they always run on an embedded server of their own
(a server named by ``MONGODB_URI`` cannot be restarted from here); where the embedded
server departs from MongoDB they are ``xfail(strict=True)``.
"""

from __future__ import annotations

import pymongo
import pytest

from persistence.testing import EmbeddedServer


@pytest.mark.xfail(
    strict=True,
    reason="embedded server gap: a retryable write retried after a restart runs again",
)
def test_a_retryable_write_retried_after_a_restart_answers_as_the_first_attempt() -> None:
    """A driver retries a write whose reply it lost with the same session and
    ``txnNumber``; MongoDB keeps the outcome of that statement (``config.transactions``,
    written with the write itself), so a retry after a restart answers as the first
    attempt did.  The embedded server forgets it and runs the insert again: E11000."""
    with EmbeddedServer() as server:
        with pymongo.MongoClient(server.uri) as client, client.start_session() as session:
            command = {
                "insert": "retried",
                "documents": [{"_id": 1}],
                "lsid": session.session_id,
                "txnNumber": 1,
            }
            first = client.gaps.command(command)
            again = client.gaps.command(command)  # the same server remembers
            assert (first["n"], again["n"], "writeErrors" in again) == (1, 1, False)
        server.restart()
        with pymongo.MongoClient(server.uri) as client:
            after = client.gaps.command(command)
            assert "writeErrors" not in after  # embedded: E11000 duplicate key on _id
            assert after["n"] == 1
            assert client.gaps.retried.count_documents({}) == 1
