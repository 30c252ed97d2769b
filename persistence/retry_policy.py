"""When a unit of work runs its block again: write conflicts, and outages that left
nothing applied, each retried within its own time budget with exponential backoff and
full jitter.

The conflict budget is time, not a count, in the spirit of PyMongo's
``with_transaction`` (which retries for 120 s): under heavy contention a block that lost
twenty races in a row still commits, while a block that keeps failing for two minutes
gives up with its last error.  Unavailability has a budget of its own (``outage_budget``,
30 s by default): it runs from the first sign of the outage in a run (an operation that
could not reach the store, a store found unreachable before an operation), and the unit
of work bounds its own waits for the store by what is left of it, so a block run during
an outage ends with ``StoreUnavailable`` within that budget, whatever the conflict budget.
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
from pymongo.errors import ConnectionFailure

from persistence.error_chain import error_chain
from persistence.errors import ConcurrencyConflict, StoreUnavailable

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "NO_RETRY",
    "OutageClock",
    "RetryPolicy",
    "is_outage",
    "is_retryable",
]

T = TypeVar("T")


def _unavailable(exc: BaseException | None) -> StoreUnavailable | None:
    """The first ``StoreUnavailable`` in the chain of causes, if any."""
    for link in error_chain(exc):
        if isinstance(link, StoreUnavailable):
            return link
    return None


def _has_label(link: BaseException, label: str) -> bool:
    has_label = getattr(link, "has_error_label", None)
    return has_label is not None and bool(has_label(label))


def is_outage(exc: BaseException | None) -> bool:
    """The store was out of reach and nothing of the block was applied: a
    ``StoreUnavailable`` with ``retry_safe``, or a driver connection failure inside a
    transaction (labelled ``TransientTransactionError``), anywhere in the chain."""
    unavailable = _unavailable(exc)
    if unavailable is not None:
        return unavailable.retry_safe
    return any(
        isinstance(link, ConnectionFailure) and _has_label(link, "TransientTransactionError")
        for link in error_chain(exc)
    )


def is_retryable(exc: BaseException | None) -> bool:
    """A write conflict: a ``ConcurrencyConflict``, or a server error labelled
    ``TransientTransactionError`` (an outage aside: see :func:`is_outage`), anywhere in
    the chain of causes.  Never an error raised from a ``StoreUnavailable``."""
    if _unavailable(exc) is not None:
        return False
    for link in error_chain(exc):
        if isinstance(link, ConcurrencyConflict):
            return True
        if isinstance(link, ConnectionFailure):
            return False
        if _has_label(link, "TransientTransactionError"):
            return True
    return False


class OutageClock:
    """What is left of one run's outage budget: it starts at the first sign of an
    outage (the first call of :meth:`left`) and is never reset within the run."""

    __slots__ = ("_clock", "budget", "since")

    def __init__(self, budget: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self.since: float | None = None

    def left(self) -> float:
        """Seconds of the budget left (starting the clock if it has not started)."""
        now = self._clock()
        if self.since is None:
            self.since = now
        return self.budget - (now - self.since)

    def unreachable(self, why: str | None = None) -> StoreUnavailable:
        """The error for a store found unreachable (the run goes on while budget is left);
        ``why``: what the driver said is wrong, when it is something to act on."""
        because = f" ({why})" if why else ""
        return StoreUnavailable(
            f"the store is unreachable{because} (the unit of work waits for it at most its "
            f"outage budget, {self.budget:g} s); nothing of the block was applied, retrying "
            "later is safe",
            retry_safe=True,
        )


@attrs.frozen
class RetryPolicy:
    """How long and how a failed block is retried.

    ``budget``: seconds since the first attempt after which no retry of a write
    conflict starts (0: never retry one).  ``outage_budget``: seconds since the first
    sign of an outage in the run after which it ends with ``StoreUnavailable``; the unit
    of work waits for an unreachable store at most that long.
    ``base_delay`` / ``max_delay``: the backoff's first ceiling and its cap.
    ``retryable``: which errors are write conflicts worth another run (default
    :func:`is_retryable`); ``outage``: which are outages that applied nothing (default
    :func:`is_outage`).  ``one_retry_at_a_time``: retries after a conflict (never first
    attempts) wait for their turn, one at a time per event loop, so blocks that keep
    losing a write conflict to each other stop competing and each is run in turn.
    ``clock``: the monotonic clock both budgets are measured with.
    """

    budget: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    outage_budget: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    base_delay: float = attrs.field(default=0.005, validator=attrs.validators.gt(0))
    max_delay: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    retryable: Callable[[BaseException], bool] = is_retryable
    outage: Callable[[BaseException], bool] = is_outage
    one_retry_at_a_time: bool = True
    clock: Callable[[], float] = time.monotonic

    def outage_clock(self) -> OutageClock:
        """A fresh outage clock for one run (or one block) under this policy."""
        return OutageClock(self.outage_budget, self.clock)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first), fully jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry, 32))
        return (rng or random).uniform(0, ceiling)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[int, BaseException], None] | None = None,
        outage: OutageClock | None = None,
    ) -> T:
        """``await attempt()`` until it succeeds, fails with an error not worth a retry,
        or the budget for its kind is spent (the last error propagates): a write
        conflict within ``budget`` since the first attempt, an outage within
        ``outage_budget`` since the first sign of it (``outage``: the run's clock, shared
        with the attempts so they bound their own waits by it).  ``on_retry(n, error)``
        is called before retry ``n``."""
        outage = outage if outage is not None else self.outage_clock()
        started = self.clock()
        retry = 0
        take_turns = False
        while True:
            try:
                if take_turns and self.one_retry_at_a_time:
                    async with _retry_turn():
                        return await attempt()
                return await attempt()
            except Exception as exc:
                wait = self.delay(retry + 1)
                if self.outage(exc):
                    if outage.left() - wait <= 0:
                        raise
                    take_turns = False  # waiting for the store, not for a contender
                elif self.retryable(exc):
                    if self.clock() - started + wait > self.budget:
                        raise
                    take_turns = True
                else:
                    raise
                retry += 1
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
"""Retry write conflicts for up to 120 s and outages for up to 30 s, waits from 5 ms
growing to at most 10 s."""

def _never(exc: BaseException) -> bool:
    return False


NO_RETRY = RetryPolicy(budget=0, outage=_never)
"""Run once: every error reaches the caller (waits for an unreachable store still end
within the outage budget)."""
