"""Differences from MongoEngine that its own suite found when run through the native
``async_`` paths (``.ci/mongoengine_suite/run.py --mode native``), each shaped like the
MongoEngine test that found it and run with the public async API alone, on the server and
on mongomock."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import (
    Document,
    InvalidDocumentError,
    OperationError,
    StringField,
)


async def test_drop_collection_drops_without_building_indexes(any_async_db: Any) -> None:
    """test_2dsphere_*: sync ``drop_collection()`` never touches indexes, so rows that
    break a newly declared unique index do not stop the drop."""

    class Badge(Document):
        code = StringField()
        meta = {"collection": "badges"}

    await Badge(code="a").async_save()
    await Badge(code="a").async_save()

    class UniqueBadge(Document):
        code = StringField(unique=True)
        meta = {"collection": "badges"}

    await UniqueBadge.async_drop_collection()
    assert "badges" not in await any_async_db.list_collection_names()
    assert await Badge.objects.async_count() == 0


async def test_abstract_documents_raise_mongoengines_errors(any_async_db: Any) -> None:
    """test_save_abstract_document, test_drop_abstract_document: an abstract Document has
    no collection; saving or dropping it raises MongoEngine's own errors."""

    class Named(Document):
        name = StringField()
        meta = {"abstract": True}

    with pytest.raises(InvalidDocumentError, match="Cannot save an abstract document"):
        await Named(name="x").async_save()
    with pytest.raises(OperationError, match="has no collection defined"):
        await Named.async_drop_collection()
    assert await Named.async_list_indexes() == []
    assert await any_async_db.list_collection_names() == []
