"""The committed state shared by in-memory units of work."""

from __future__ import annotations

import asyncio
from typing import Any

from .files import InMemoryFileStore

__all__ = ["InMemoryStore"]


class InMemoryStore:
    """Committed entities by table and id (and the files beside them); units of work
    apply to it atomically."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self.files = InMemoryFileStore()
        self.commit_lock = asyncio.Lock()

    def table(self, name: str) -> dict[str, Any]:
        """The committed entities of ``name`` (created empty on first use)."""
        return self.tables.setdefault(name, {})
