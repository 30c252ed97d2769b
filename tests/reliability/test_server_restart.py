"""A server restart mid-run: clear failures while it is down, success after, and no
acknowledged write lost."""

from __future__ import annotations

import time

import pytest
from mongoengine import Document, IntField
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

import persistence.engine  # noqa: F401
from eventually import HANG_S
from persistence.engine import connect_async, disconnect_async
from persistence.testing import EmbeddedServer


class Event(Document):
    seq = IntField(required=True)
    meta = {"db_alias": "restarting"}


async def test_operations_fail_while_down_and_acknowledged_writes_survive() -> None:
    server = EmbeddedServer().start()
    acknowledged: list[int] = []
    try:
        await connect_async(
            "restart_db", alias="restarting", host=server.uri, serverSelectionTimeoutMS=1500
        )
        for seq in range(50):
            await Event(seq=seq).async_save()
            acknowledged.append(seq)

        server.stop(keep_storage=True)
        with pytest.raises((ServerSelectionTimeoutError, AutoReconnect)):
            await Event(seq=999).async_save()
        with pytest.raises((ServerSelectionTimeoutError, AutoReconnect)):
            await Event.objects.async_count()

        server.start()
        give_up = time.monotonic() + HANG_S  # a hang guard, not a speed requirement
        while True:  # until the client has rediscovered the server
            try:
                await Event(seq=50).async_save()
                break
            except (ServerSelectionTimeoutError, AutoReconnect):
                if time.monotonic() > give_up:
                    raise
        acknowledged.append(50)
        stored = sorted([e.seq async for e in Event.objects])
        assert [s for s in stored if s != 999] == acknowledged  # nothing acknowledged lost
    finally:
        await disconnect_async("restarting")
        server.stop()
