"""Async twins of MongoEngine's ``set_write_concern`` and ``set_read_write_concern``.

Both only derive a collection with other options (no I/O, no shared state), so the twins
affect nothing outside their block.  They accept the async collection of a Document
class (pass the class itself) or any
``AsyncCollection``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from . import compat

__all__ = ["async_set_read_write_concern", "async_set_write_concern"]


def _collection(target: Any) -> Any:
    if isinstance(target, type) and compat.has_meta(target):
        from .connection import get_async_db

        alias = compat.meta(target).get("db_alias", "default")
        return get_async_db(alias)[compat.collection_name(target)]
    return target


@asynccontextmanager
async def async_set_write_concern(
    collection: Any, write_concerns: Mapping[str, Any]
) -> AsyncIterator[Any]:
    """Yield ``collection`` with its write concern overridden by ``write_concerns``."""
    collection = _collection(collection)
    combined = {**collection.write_concern.document, **write_concerns}
    yield collection.with_options(write_concern=WriteConcern(**combined))


@asynccontextmanager
async def async_set_read_write_concern(
    collection: Any, write_concerns: Mapping[str, Any], read_concerns: Mapping[str, Any]
) -> AsyncIterator[Any]:
    """Yield ``collection`` with its write and read concerns overridden."""
    collection = _collection(collection)
    combined_write = {**collection.write_concern.document, **write_concerns}
    combined_read = {**collection.read_concern.document, **read_concerns}
    yield collection.with_options(
        write_concern=WriteConcern(**combined_write),
        read_concern=ReadConcern(**combined_read),
    )
