"""The committed state shared by in-memory units of work."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections import OrderedDict
from typing import Any

import attrs
from bson import CodecOptions
from bson.binary import UuidRepresentation

from persistence.commit_records import DEFAULT_RETENTION
from persistence.memory.files import InMemoryFileStore

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

    def __init__(
        self,
        *,
        tz_aware: bool = False,
        tzinfo: datetime.tzinfo | None = None,
        commit_retention: float = DEFAULT_RETENTION,
    ) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.files = InMemoryFileStore(tz_aware=tz_aware, tzinfo=tzinfo)
        self.commit_lock = asyncio.Lock()
        self.codec_options: CodecOptions[Any] = CodecOptions(
            tz_aware=tz_aware, tzinfo=tzinfo, uuid_representation=UuidRepresentation.STANDARD
        )
        self.commit_retention = commit_retention
        # commit record id -> when it was stored (time.monotonic), oldest first
        self.commit_records: OrderedDict[str, float] = OrderedDict()
        self._lost_replies: list[_LostReply] = []
        # the outbox (persistence.outbox.memory): commit records with events, in commit
        # order; per key the last event number; processed marks; woken on each commit
        self.outbox: list[dict[str, Any] | None] = []  # None: pruned
        self.outbox_keys: dict[str, int] = {}
        self.processed: set[str] = set()
        self.outbox_changed = asyncio.Condition()
        self.outbox_positions: dict[str, int] = {}  # consumer -> index of its next record
        self.dead_letters: dict[str, Any] = {}  # id -> DeadLetter, oldest first

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """The committed documents of ``name`` by id (created empty on first use)."""
        return self.tables.setdefault(name, {})

    def keep_commit_record(self, record_id: str) -> None:
        """Store the record of a commit that writes (with its writes); records older than
        ``commit_retention`` seconds are dropped, as MongoDB's TTL index drops them."""
        now = time.monotonic()
        records = self.commit_records
        while records and now - next(iter(records.values())) > self.commit_retention:
            records.popitem(last=False)
        records[record_id] = now

    # -- test hooks -----------------------------------------------------------------------

    def lose_commit_replies(
        self, count: int = 1, *, applied: bool = True, resolvable: bool = True
    ) -> None:
        """Test hook: the next ``count`` commits that write lose their answer, as when
        the connection breaks after a commit was sent: the commit lands (``applied``) or
        not, and the unit of work is told only that its outcome is unknown.  With
        ``resolvable=False`` the store also stays out of reach while the unit of work
        tries to learn the outcome, so the commit ends in ``CommitOutcomeUnknown``."""
        self._lost_replies.extend(_LostReply(applied, resolvable) for _ in range(count))

    def take_lost_reply(self) -> _LostReply | None:
        """The simulated loss for the commit now being made, if one is pending."""
        return self._lost_replies.pop(0) if self._lost_replies else None


@attrs.frozen
class _LostReply:
    applied: bool
    resolvable: bool
