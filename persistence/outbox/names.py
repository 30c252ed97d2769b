"""The outbox's collections, in each alias's database (pure: names only)."""

from __future__ import annotations

__all__ = ["COMMITS", "CONSUMERS", "DEAD_LETTERS", "OUTBOX_KEYS", "PROCESSED"]

COMMITS = "persistence_commits"
"""The commit records (``persistence.commit_records.COLLECTION``): those with events are
the outbox."""
OUTBOX_KEYS = "persistence_outbox_keys"
"""Per event key, the number of the last event published for it."""
CONSUMERS = "persistence_outbox_consumers"
"""Per consumer (and partition): its resume token (``_id``: the position's name)."""
DEAD_LETTERS = "persistence_outbox_dead"
"""Parked events with their last error."""
PROCESSED = "persistence_processed"
"""Processed marks of ``record_processed`` / ``handle_once`` (``_id``: consumer/event)."""
