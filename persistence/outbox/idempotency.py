"""Exactly-once effects for handlers that write to the same store: the event's id is
recorded as processed in the handler's own unit of work, in the same transaction as its
effects, so a second delivery of the event finds the mark and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .delivery import Delivery

__all__ = ["handle_once"]

U = TypeVar("U")


async def handle_once(uow: Any, delivery: Delivery, work: Callable[[Any], Awaitable[Any]]) -> bool:
    """Run ``work(uow)`` in a block of ``uow`` (``uow.run``: committed, retried on a
    conflict) unless ``delivery``'s event was already processed by its consumer; the
    processed mark commits with ``work``'s writes.  True if ``work`` ran and committed,
    False if the event had been processed (a redelivery)."""

    async def block(uow: Any) -> bool:
        if not await uow.record_processed(delivery.consumer, delivery.id):
            return False
        await work(uow)
        return True

    return bool(await uow.run(block))
