"""The retry policy: what it retries, its budget, its jittered backoff."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from persistence.errors import CommitOutcomeUnknown, ConcurrencyConflict, StoreUnavailable
from persistence.retry_policy import (
    DEFAULT_RETRY_POLICY,
    NO_RETRY,
    RetryPolicy,
    is_outage,
    is_retryable,
)


def _conflict() -> ConcurrencyConflict:
    return ConcurrencyConflict("Account", "a1")


async def test_a_conflict_is_retried_until_the_attempt_succeeds() -> None:
    calls = []
    seen = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise _conflict()
        return "done"

    policy = RetryPolicy(base_delay=0.001, max_delay=0.002)
    assert await policy.run(attempt, on_retry=lambda n, e: seen.append(n)) == "done"
    assert len(calls) == 4
    assert seen == [1, 2, 3]


async def test_other_errors_are_not_retried() -> None:
    calls = []

    async def attempt() -> None:
        calls.append(1)
        raise LookupError("no")

    with pytest.raises(LookupError):
        await DEFAULT_RETRY_POLICY.run(attempt)
    assert calls == [1]


async def test_the_last_conflict_propagates_once_the_budget_is_spent() -> None:
    calls = []

    async def attempt() -> None:
        calls.append(1)
        raise _conflict()

    with pytest.raises(ConcurrencyConflict):
        await NO_RETRY.run(attempt)
    assert calls == [1]
    calls.clear()
    clock = FakeClock()  # not the wall clock: a paused process would spend the budget

    async def a_second_each() -> None:
        calls.append(1)
        clock.now += 1.0
        raise _conflict()

    policy = RetryPolicy(budget=2.5, base_delay=1e-4, max_delay=1e-4, clock=clock)
    with pytest.raises(ConcurrencyConflict):
        await policy.run(a_second_each)
    assert len(calls) == 3  # the third ends 3 s after the first began: past the budget


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.01, max_delay=0.5)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.02), (3, 0.08), (10, 0.5), (200, 0.5)]:
        waits = [policy.delay(retry, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8 and min(waits) < ceiling * 0.2


def test_labelled_transient_errors_are_retryable() -> None:
    from pymongo.errors import OperationFailure

    transient = OperationFailure("WriteConflict", 112)
    transient._add_error_label("TransientTransactionError")
    try:
        raise RuntimeError("wrapped") from transient
    except RuntimeError as wrapped:
        assert is_retryable(wrapped)
    assert not is_retryable(OperationFailure("other", 2))
    assert is_retryable(_conflict())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        RetryPolicy(budget=-1)


async def _overlapping_retries(policy: RetryPolicy) -> int:
    """The most retries of 20 conflicting blocks that ran at the same moment."""
    running, most = 0, 0

    def block() -> Any:
        tries = 0

        async def attempt() -> None:
            nonlocal running, most, tries
            tries += 1
            if tries == 1:
                await asyncio.sleep(0)
                raise _conflict()  # every block loses its first attempt
            running += 1
            most = max(most, running)
            try:
                await asyncio.sleep(0.01)  # the retried block's own I/O
            finally:
                running -= 1

        return attempt

    await asyncio.gather(*(policy.run(block()) for _ in range(20)))
    return most


async def test_retries_take_turns_while_first_attempts_run_at_once() -> None:
    policy = RetryPolicy(base_delay=0.001, max_delay=0.001)
    assert await _overlapping_retries(policy) == 1
    concurrent = RetryPolicy(base_delay=0.001, max_delay=0.001, one_retry_at_a_time=False)
    assert await _overlapping_retries(concurrent) > 1  # what the turn prevents


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _outage() -> StoreUnavailable:
    return StoreUnavailable("the store is unreachable", retry_safe=True)


async def test_outages_have_their_own_budget() -> None:
    clock = FakeClock()
    attempts = []

    async def attempt() -> None:
        attempts.append(clock.now)
        clock.now += 1.0  # each attempt finds the store down for a second
        raise _outage()

    # a long conflict budget, a short outage budget: the outage one ends the run
    policy = RetryPolicy(budget=1000, outage_budget=3.5, base_delay=1e-4, max_delay=1e-4,
                         clock=clock)
    with pytest.raises(StoreUnavailable):
        await policy.run(attempt)
    assert attempts == [0.0, 1.0, 2.0, 3.0, 4.0]  # 3.5 s from the first failure, at 1.0
    clock.now, attempts[:] = 0.0, []

    async def conflicting() -> None:  # and conflicts keep theirs
        attempts.append(clock.now)
        clock.now += 1.0
        raise _conflict()

    with pytest.raises(ConcurrencyConflict):
        await RetryPolicy(budget=6.5, outage_budget=1, base_delay=1e-4, max_delay=1e-4,
                          clock=clock).run(conflicting)
    assert len(attempts) == 7


async def test_the_outage_clock_is_shared_with_the_attempts() -> None:
    """The unit of work bounds its own waits for the store by the run's clock."""
    clock = FakeClock()
    policy = RetryPolicy(outage_budget=10, base_delay=1e-4, max_delay=1e-4, clock=clock)
    outage = policy.outage_clock()
    seen = []

    async def attempt() -> str:
        seen.append(outage.left())  # what an attempt may still wait
        clock.now += 4.0
        if len(seen) < 3:
            raise _outage()
        return "done"

    assert await policy.run(attempt, outage=outage) == "done"
    assert seen == [10.0, 6.0, 2.0]


async def test_what_is_never_retried() -> None:
    calls = []

    async def unknown() -> None:
        calls.append(1)
        raise CommitOutcomeUnknown("lost", commit_id="0" * 24)

    with pytest.raises(CommitOutcomeUnknown):
        await DEFAULT_RETRY_POLICY.run(unknown)  # it may have committed
    assert calls == [1]
    unsafe = StoreUnavailable("a write was sent", retry_safe=False)
    transient = OperationFailure("WriteConflict", 112)
    transient._add_error_label("TransientTransactionError")
    try:
        raise unsafe from transient
    except StoreUnavailable as wrapped:
        assert not is_retryable(wrapped) and not is_outage(wrapped)
    assert is_outage(_outage()) and not is_retryable(_outage())
    with pytest.raises(ValueError, match="outage_budget"):
        RetryPolicy(outage_budget=0)
    with pytest.raises(StoreUnavailable):  # NO_RETRY: one attempt, outages included
        await NO_RETRY.run(_fail_with(_outage(), calls))
    assert calls == [1, 1]


def _fail_with(error: Exception, calls: list[int]) -> Any:
    async def attempt() -> None:
        calls.append(1)
        raise error

    return attempt
