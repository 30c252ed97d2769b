"""A transactional outbox in the unit of work (issue 24): domain events recorded with
``uow.publish(event)`` are written with the block's commit, in its transaction, and
delivered to consumers at least once, in commit order per key (docs/events.md).

Pure parts load here; the MongoDB consumer side is :mod:`persistence.outbox.mongo`, the
memory one :mod:`persistence.outbox.memory` (also reachable as ``MongoOutbox`` and
``MemoryOutbox`` from this package, loaded on first use).
"""

from __future__ import annotations

from typing import Any

from .delivery import (
    DeadLetter,
    Delivery,
    HandlerRetry,
    Outbox,
    StoredEvent,
    StoredRecord,
    commit_order,
    position_name,
)
from .events import EVENT_TYPES, EventType, EventTypes, UnknownEvent, domain_event
from .idempotency import handle_once

__all__ = [
    "EVENT_TYPES",
    "DeadLetter",
    "Delivery",
    "EventType",
    "EventTypes",
    "HandlerRetry",
    "MemoryOutbox",
    "MongoOutbox",
    "Outbox",
    "StoredEvent",
    "StoredRecord",
    "UnknownEvent",
    "commit_order",
    "domain_event",
    "handle_once",
    "position_name",
]


def __getattr__(name: str) -> Any:
    if name == "MongoOutbox":
        from .mongo import MongoOutbox

        return MongoOutbox
    if name == "MemoryOutbox":
        from .memory import MemoryOutbox

        return MemoryOutbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
