"""The reference service's domain events (published through the unit of work's outbox).

Declared on the classes themselves (``__event_name__``, ...), so ``domain`` stays free of
the persistence layer; the layer registers a class the first time one of its events is
published, and a consumer process registers it with ``EVENT_TYPES.register``.
"""

from __future__ import annotations

import attrs

__all__ = ["TransferCompleted"]


@attrs.frozen
class TransferCompleted:
    """``amount`` cents moved from ``source_id`` to ``target_id`` (ordered per source)."""

    __event_name__ = "transfer.completed"
    __event_version__ = 1
    __event_key__ = "source_id"

    source_id: str
    target_id: str
    amount: int
