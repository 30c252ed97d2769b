"""A sync and an async alias on one database, used alternately from one coroutine."""

from __future__ import annotations

from typing import Any

from mongoengine import Document, IntField, StringField

import persistence.engine  # noqa: F401


class AsyncCounter(Document):
    name = StringField()
    n = IntField(default=0)
    meta = {"collection": "counters"}


class SyncCounter(Document):
    name = StringField()
    n = IntField(default=0)
    meta = {"collection": "counters", "db_alias": "sync"}


async def test_alternating_sync_and_async_see_each_others_writes(
    async_db: Any, sync_db: Any
) -> None:
    await AsyncCounter(name="shared").async_save()
    for i in range(100):
        if i % 2:
            SyncCounter.objects(name="shared").update_one(inc__n=1)
            assert (await AsyncCounter.objects.async_get(name="shared")).n == i + 1
        else:
            await AsyncCounter.objects(name="shared").async_update_one(inc__n=1)
            assert SyncCounter.objects.get(name="shared").n == i + 1
        if i % 10 == 0:
            SyncCounter(name=f"s{i}").save()
            await AsyncCounter(name=f"a{i}").async_save()
    assert SyncCounter.objects.count() == await AsyncCounter.objects.async_count() == 21
    names = {c.name async for c in AsyncCounter.objects}
    assert names == {c.name for c in SyncCounter.objects}
    assert sync_db["counters"].find_one({"name": "shared"})["n"] == 100
