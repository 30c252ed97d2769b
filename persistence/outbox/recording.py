"""What a unit of work keeps of a published event until it commits, and how the events
of one commit are stored (in the commit's record: see :mod:`persistence.commit_records`).

A stored commit record with events looks like::

    {"_id": ObjectId(commit id), "published": datetime,
     "events": [{"id": "<commit id>-0", "type": "transfer.completed", "v": 1,
                 "key": "<aggregate id>", "seq": 7, "data": {...}}, ...],
     "done": ["billing", ...]}

``seq`` numbers the events of one key in commit order (1, 2, ...); ``done`` lists the
consumers that acknowledged every event of the record.  Pure: PyMongo's ``bson`` is
imported only when an event is checked.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .events import EVENT_TYPES, EventTypes

__all__ = [
    "MAX_EVENTS_BYTES",
    "PendingEvent",
    "check_room",
    "keys_needed",
    "prepare_event",
    "record_events",
]

MAX_EVENTS_BYTES = 16 * 1024 * 1024 - 256 * 1024
"""The most one commit's events may take, stored: the commit record holding them must fit
the store's 16 MiB document limit (and its change event too), with room left for its
``done`` list growing as consumers finish it."""


@attrs.frozen
class PendingEvent:
    """An event published in a block, encoded, waiting for the block's commit."""

    type: str
    version: int
    key: str | None
    data: dict[str, Any]
    event: Any = attrs.field(eq=False, repr=False)
    """The event object as published (what the memory adapter's tests may look at)."""
    size: int = attrs.field(default=0, eq=False, repr=False)
    """At most how many bytes the event takes in its commit record."""
    total: int = attrs.field(default=0, eq=False, repr=False)
    """``size`` summed over the block's events up to this one (set by :func:`check_room`)."""


def prepare_event(
    event: Any, key: str | None = None, types: EventTypes = EVENT_TYPES
) -> PendingEvent:
    """``event`` encoded through the codec and checked now (``TypeError`` naming what is
    wrong: an unregistered class, a value BSON cannot hold), before anything is written."""
    event_type = types.of(event)
    if key is not None and not isinstance(key, str):
        raise TypeError(f"publish({type(event).__qualname__}, key=...): key must be a str")
    data = event_type.payload(event)
    import bson  # only here: this module stays free of PyMongo at import time

    chosen = key if key is not None else event_type.key_of(event)
    try:
        size = len(
            bson.encode(
                {"id": "0" * 40, "type": event_type.name, "v": event_type.version,
                 "key": chosen, "seq": 2**62, "data": data}
            )
        ) + 24  # the entry's name in the events array, and room for larger numbers
    except Exception as exc:
        raise TypeError(
            f"event {event_type.name!r} ({type(event).__qualname__}) holds a value the store "
            f"cannot keep: {exc}; use str, int, float, bool, datetime, lists, dicts or "
            "nested attrs classes of them"
        ) from exc
    return PendingEvent(event_type.name, event_type.version, chosen, data, event, size)


def check_room(published: Sequence[PendingEvent], pending: PendingEvent) -> PendingEvent:
    """``pending``, to follow ``published`` in one commit; ``ValueError`` if it would take
    the commit's events past :data:`MAX_EVENTS_BYTES` (the same on every adapter, before
    anything is written)."""
    total = (published[-1].total if published else 0) + pending.size
    if total > MAX_EVENTS_BYTES:
        raise ValueError(
            f"publishing event {pending.type!r} would take this block's events to about "
            f"{total} bytes, more than one commit can store ({MAX_EVENTS_BYTES} bytes): "
            "publish fewer or smaller events per block (keep large payloads in a document "
            "or a file and put its id in the event)"
        )
    return attrs.evolve(pending, total=total)


def keys_needed(events: Sequence[PendingEvent]) -> Counter[str]:
    """How many events of each key the commit numbers (keyless events are not numbered)."""
    return Counter(e.key for e in events if e.key is not None)


def record_events(
    commit_id: str, events: Sequence[PendingEvent], last_seq: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The stored form of a commit's events; ``last_seq``: per key, the counter after
    this commit's increment (its events take the numbers up to it)."""
    counts = keys_needed(events)
    next_seq = {key: last_seq[key] - n + 1 for key, n in counts.items()}
    stored = []
    for index, event in enumerate(events):
        seq = None
        if event.key is not None:
            seq = next_seq[event.key]
            next_seq[event.key] += 1
        stored.append(
            {
                "id": f"{commit_id}-{index}",
                "type": event.type,
                "v": event.version,
                "key": event.key,
                "seq": seq,
                "data": event.data,
            }
        )
    return stored


def utcnow() -> datetime.datetime:
    """Now, aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)
