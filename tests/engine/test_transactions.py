"""``async_run_in_transaction``: what runs inside sees the transaction's own writes."""

from __future__ import annotations

from typing import Any

from mongoengine import Document, IntField

import persistence  # noqa: F401
from persistence.engine import async_run_in_transaction


class Counted(Document):
    n = IntField()


async def test_unfiltered_count_inside_a_transaction_sees_its_writes(async_db: Any) -> None:
    """MongoEngine counts an unfiltered queryset with ``estimated_document_count``
    (the ``count`` command), which cannot run in a transaction: it is replaced there."""
    await Counted.objects.async_insert([Counted(n=i) for i in range(3)])
    async with async_run_in_transaction():
        await Counted.objects(n=0).async_delete()
        await Counted(n=9).async_save()
        await Counted(n=10).async_save()
        assert await Counted.objects.async_count() == 4
        assert await Counted.objects(n__gte=9).async_count() == 2
    assert await Counted.objects.async_count() == 4  # the fast path outside
    assert await async_db["counted"].count_documents({}) == 4
