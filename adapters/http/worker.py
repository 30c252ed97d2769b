"""The worker started beside the blog's HTTP API: it consumes ``transfer.completed``
events from the outbox as the consumer ``transfer-notices`` and keeps a notice per
transfer (here: in memory, newest last; a real service would mail or bill).

``create_app`` starts it in the app's lifespan; ``python -m adapters.http.worker``
runs it alone (``MONGODB_URI``, database ``blog``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Any

import persistence  # noqa: F401  (activates the async API)
from domain.events import TransferCompleted
from persistence.outbox import EVENT_TYPES, Delivery, Outbox

__all__ = ["CONSUMER", "TransferNotices", "start_worker"]

CONSUMER = "transfer-notices"
log = logging.getLogger("blog.worker")

EVENT_TYPES.register(TransferCompleted)  # this process may consume before it publishes


class TransferNotices:
    """The handler: one notice per delivered transfer (a redelivery replaces nothing:
    notices are keyed by event id)."""

    def __init__(self, keep: int = 1000) -> None:
        self.notices: deque[dict[str, Any]] = deque(maxlen=keep)
        self._seen: set[str] = set()

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        if not isinstance(event, TransferCompleted) or delivery.id in self._seen:
            return
        self._seen.add(delivery.id)
        self.notices.append(
            {"event": delivery.id, "source": event.source_id, "target": event.target_id,
             "amount": event.amount}
        )
        log.info("transfer of %d from %s to %s", event.amount, event.source_id, event.target_id)


def start_worker(outbox: Outbox, notices: TransferNotices) -> asyncio.Task[None]:
    """Consume in a background task (cancel it to stop)."""
    return asyncio.create_task(outbox.run(CONSUMER, notices), name="transfer-notices")


async def _main() -> None:  # pragma: no cover - run by hand
    from persistence.engine import connect_async
    from persistence.outbox.mongo import MongoOutbox

    await connect_async("blog", host=os.environ.get("MONGODB_URI", "localhost"))
    outbox = MongoOutbox()
    await outbox.ensure_indexes()
    await start_worker(outbox, TransferNotices())


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main())
