"""Commit records: how a unit of work learns whether a commit whose answer was lost
landed, so that a block is never run again after it did.

Every commit of a block that wrote writes one record, in the same transaction as the
block's writes: its id is new for each commit.  When the commit's answer does not come (the
connection dropped, the server restarted, the commit failed with an error that does not
say whether it was applied), the adapter raises :class:`AmbiguousCommit` and the unit of
work asks the adapter whether the record is stored.  It is stored exactly when the
commit landed; the adapter makes that answer final (on MongoDB it writes a *void* record
with the same id, which a commit still in flight can then never write: see
:meth:`persistence.mongo.MongoUnitOfWork._commit_landed`).

Records are kept for ``retention`` seconds (a TTL index on MongoDB, pruning at commit in
memory): far longer than any unit of work keeps trying to learn an outcome (its outage
budget).  The record of a block that published domain events carries them (the
outbox: :mod:`persistence.outbox.recording`); such a record has ``published`` instead of
``at``, so the TTL index leaves it to the outbox's retention (``MongoOutbox.prune``).
"""

from __future__ import annotations

import datetime

import attrs
from bson import ObjectId

from persistence.outbox.names import COMMITS

__all__ = [
    "COLLECTION",
    "DEFAULT_RETENTION",
    "AmbiguousCommit",
    "CommitRecord",
    "new_commit_record",
]

COLLECTION = COMMITS
"""The collection of commit records, in each alias's database (MongoDB adapter)."""

DEFAULT_RETENTION = 3600.0
"""Seconds a commit record is kept (one hour)."""


@attrs.frozen
class CommitRecord:
    """One commit of one block: ``id`` (24 hex digits, an ObjectId's) names it in the
    store; the ObjectId's time says when the commit began, so that an outcome is never
    read from a record that may have expired."""

    id: str

    def expired_by(self, retention: float) -> bool:
        """True when the record may already be gone (older than half ``retention``):
        its absence would then prove nothing."""
        born = ObjectId(self.id).generation_time
        age = datetime.datetime.now(datetime.timezone.utc) - born
        return age.total_seconds() > retention / 2


def new_commit_record() -> CommitRecord:
    """A record for a commit about to begin."""
    return CommitRecord(id=str(ObjectId()))


class AmbiguousCommit(Exception):
    """Raised by an adapter's ``_commit``: the commit, which carried ``record``, was sent
    and whether it landed is unknown (raised from the error that says so)."""

    def __init__(self, record: CommitRecord, message: str) -> None:
        super().__init__(message)
        self.record = record
