"""When a unit of work runs its block again: write conflicts and transient transaction
errors, retried within a time budget with exponential backoff and full jitter.

The budget is time, not a count, in the spirit of PyMongo's ``with_transaction`` (which
retries for 120 s): under heavy contention a block that lost twenty races in a row still
commits, while a block that keeps failing for two minutes gives up with its last error.
Each wait is drawn uniformly between 0 and ``min(max_delay, base_delay * 2**retry)``
("full jitter"), which spreads the contenders apart instead of having them collide
again in step.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs

from domain.errors import ConcurrencyConflict

from .error_chain import error_chain

__all__ = ["DEFAULT_RETRY_POLICY", "NO_RETRY", "RetryPolicy", "is_retryable"]

T = TypeVar("T")


def is_retryable(exc: BaseException | None) -> bool:
    """A write conflict: a ``ConcurrencyConflict``, or a server error labelled
    ``TransientTransactionError``, anywhere in the chain of causes."""
    for link in error_chain(exc):
        if isinstance(link, ConcurrencyConflict):
            return True
        has_label = getattr(link, "has_error_label", None)
        if has_label is not None and has_label("TransientTransactionError"):
            return True
    return False


@attrs.frozen
class RetryPolicy:
    """How long and how a failed block is retried.

    ``budget``: seconds since the first attempt after which no retry starts (0: never
    retry).  ``base_delay`` / ``max_delay``: the backoff's first ceiling and its cap.
    ``retryable``: which errors are worth another run (default :func:`is_retryable`).
    ``one_retry_at_a_time``: retries (never first attempts) wait for their turn, one at
    a time per event loop, so blocks that keep losing a write conflict to each other stop
    competing and each is run in turn; a first attempt still runs at once.
    """

    budget: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    base_delay: float = attrs.field(default=0.005, validator=attrs.validators.gt(0))
    max_delay: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    retryable: Callable[[BaseException], bool] = is_retryable
    one_retry_at_a_time: bool = True

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first), fully jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry, 32))
        return (rng or random).uniform(0, ceiling)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[int, BaseException], None] | None = None,
    ) -> T:
        """``await attempt()`` until it succeeds, fails with an error not worth a retry,
        or the budget is spent (the last error propagates).  ``on_retry(n, error)`` is
        called before retry ``n``."""
        started = time.monotonic()
        retry = 0
        while True:
            try:
                if retry and self.one_retry_at_a_time:
                    async with _retry_turn():
                        return await attempt()
                return await attempt()
            except Exception as exc:
                if not self.retryable(exc):
                    raise
                retry += 1
                wait = self.delay(retry)
                if time.monotonic() - started + wait > self.budget:
                    raise
                if on_retry is not None:
                    on_retry(retry, exc)
                await asyncio.sleep(wait)


_RETRY_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _retry_turn() -> asyncio.Lock:
    """The running event loop's turn for retries."""
    loop = asyncio.get_running_loop()
    turn = _RETRY_TURNS.get(loop)
    if turn is None:
        turn = _RETRY_TURNS[loop] = asyncio.Lock()
    return turn


DEFAULT_RETRY_POLICY = RetryPolicy()
"""Retry write conflicts for up to 120 s, waits from 5 ms growing to at most 10 s."""

NO_RETRY = RetryPolicy(budget=0)
"""Run once: every error reaches the caller."""
