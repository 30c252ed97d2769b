"""The committed state shared by in-memory units of work."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from bson import CodecOptions
from bson.binary import UuidRepresentation

from .files import InMemoryFileStore

__all__ = ["InMemoryStore"]

class InMemoryStore:
    """Committed documents by repository name and id (and the files beside them); units
    of work apply to it atomically.  It is the memory adapter's alias: every unit of work
    made on it reads as the store's options say.

    Documents are kept as MongoDB would return them on an alias connected with the same
    options: encoded to BSON and decoded with the alias's codec options (UUIDs
    ``"standard"``), so datetimes come back truncated to milliseconds, naive UTC by
    default; with ``tz_aware=True`` aware, in ``tzinfo`` (default UTC), as
    ``connect_async(..., tz_aware=True, tzinfo=...)`` makes a server's reads.
    """

    def __init__(self, *, tz_aware: bool = False, tzinfo: datetime.tzinfo | None = None) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.files = InMemoryFileStore()
        self.commit_lock = asyncio.Lock()
        self.codec_options: CodecOptions[Any] = CodecOptions(
            tz_aware=tz_aware, tzinfo=tzinfo, uuid_representation=UuidRepresentation.STANDARD
        )

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """The committed documents of ``name`` by id (created empty on first use)."""
        return self.tables.setdefault(name, {})
