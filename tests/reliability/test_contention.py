"""Contention resolves: 200 concurrent transfers over 10 accounts all commit with the
unit of work's default retry policy (no fault injected, only write conflicts)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

from adapters.registry import registry
from domain.app_ports import AppUnitOfWork
from domain.entities import Account
from persistence.mongo import MongoUnitOfWork

TRANSFERS = 200
ACCOUNTS = 10


async def test_200_concurrent_transfers_over_10_accounts_all_succeed(client: Any) -> None:
    accounts = [Account(owner=f"owner{i}", balance=1_000) for i in range(ACCOUNTS)]
    async with MongoUnitOfWork(registry) as uow:
        await uow.accounts.add_many(accounts)
        await uow.commit()
    rng = random.Random()
    plans = [(*rng.sample(accounts, 2), rng.randint(1, 20)) for _ in range(TRANSFERS)]
    runs: Counter[int] = Counter()  # transfer index -> how many times its block ran

    async def transfer(index: int, source: Account, target: Account, amount: int) -> None:
        async def move(uow: AppUnitOfWork) -> None:
            runs[index] += 1
            src = await uow.accounts.get(source.id)
            dst = await uow.accounts.get(target.id)
            src.balance -= amount
            dst.balance += amount
            await uow.accounts.save(src)
            await uow.accounts.save(dst)

        await MongoUnitOfWork(registry).run(move)  # the defaults

    started = time.perf_counter()
    results = await asyncio.gather(
        *(transfer(i, *plan) for i, plan in enumerate(plans)), return_exceptions=True
    )
    wall = time.perf_counter() - started
    assert [r for r in results if r is not None] == []  # every transfer committed

    expected = {a.id: 1_000 for a in accounts}
    for source, target, amount in plans:
        expected[source.id] -= amount
        expected[target.id] += amount
    async with MongoUnitOfWork(registry) as uow:
        stored = await uow.accounts.get_many([a.id for a in accounts])
    assert {a.id: a.balance for a in stored} == expected
    assert sum(expected.values()) == ACCOUNTS * 1_000
    retries = Counter(n - 1 for n in runs.values())
    print(
        f"\n{TRANSFERS} transfers over {ACCOUNTS} accounts in {wall:.1f} s; "
        f"retries per transfer -> transfers: {dict(sorted(retries.items()))}; "
        f"max {max(retries)}, total {sum(k * v for k, v in retries.items())}"
    )
