"""The committed state shared by in-memory units of work."""

from __future__ import annotations

import asyncio
from typing import Any

from bson import CodecOptions
from bson.binary import UuidRepresentation

from .files import InMemoryFileStore

__all__ = ["InMemoryStore"]

DEFAULT_CODEC_OPTIONS: CodecOptions[Any] = CodecOptions(
    tz_aware=False, uuid_representation=UuidRepresentation.STANDARD
)


class InMemoryStore:
    """Committed documents by repository name and id (and the files beside them); units
    of work apply to it atomically.

    Documents are kept as MongoDB would return them: encoded to BSON and decoded with
    ``codec_options`` (as an alias's: ``tz_aware``, ``uuid_representation``), so
    datetimes come back truncated to milliseconds, naive unless ``tz_aware``.
    """

    def __init__(self, codec_options: CodecOptions[Any] = DEFAULT_CODEC_OPTIONS) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.files = InMemoryFileStore()
        self.commit_lock = asyncio.Lock()
        self.codec_options = codec_options

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """The committed documents of ``name`` by id (created empty on first use)."""
        return self.tables.setdefault(name, {})
