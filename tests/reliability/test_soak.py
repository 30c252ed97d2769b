"""A bounded soak: 500 concurrent tasks run mixed operations through the repositories
and units of work, then every invariant is checked against what was acknowledged."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import pytest

import persistence  # noqa: F401
from adapters.mongo import MongoUnitOfWork
from domain.entities import Account, Product
from domain.errors import ConcurrencyConflict, InsufficientFunds, NotFound, UnitOfWorkError
from domain.library import Author, Book
from domain.services import transfer_funds
from domain.specs import ALL, Change, Changes, F

TASKS = 500
MAX_OPS = 10_000
DEADLINE_S = 100.0  # no operation starts later; those in flight finish
ACCOUNTS, BALANCE = 10, 1_000


@pytest.mark.slow
async def test_soak(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(2026)
    accounts = [Account(owner=f"a{i}", balance=BALANCE) for i in range(ACCOUNTS)]
    products = [Product(name=f"p{i}") for i in range(20)]
    seed_authors = [Author(name=f"seed{i}") for i in range(40)]
    async with MongoUnitOfWork() as uow:
        await uow.accounts.add_many(accounts)
        await uow.products.add_many(products)
        await uow.authors.add_many(seed_authors)
        await uow.books.add_many([Book(title="b", author_id=a.id) for a in seed_authors])
        await uow.commit()

    live_authors = [a.id for a in seed_authors]
    removed: set[str] = set()
    increments: Counter[str] = Counter()
    done: Counter[str] = Counter()
    errors: list[BaseException] = []
    budget = MAX_OPS
    started = time.monotonic()

    async def create(uow: Any) -> str:
        author = Author(name="new")
        await uow.authors.add(author)
        await uow.books.add(Book(title="first", author_id=author.id))
        return author.id

    async def one_op(kind: str) -> None:
        if kind == "create":
            author_id = await MongoUnitOfWork().run(create)
            live_authors.append(author_id)  # acknowledged: it must be readable at the end
        elif kind == "get":
            if live_authors:
                author_id = rng.choice(live_authors)
                async with MongoUnitOfWork() as uow:
                    try:
                        await uow.authors.get(author_id)
                    except NotFound:
                        assert author_id in removed  # only if removed meanwhile
        elif kind == "increment":
            product = rng.choice(products).id

            async def bump(uow: Any) -> None:
                await uow.products.update_where(
                    F("id") == product, Changes((Change("inc", "stock", 1),))
                )

            await MongoUnitOfWork().run(bump)
            increments[product] += 1
        elif kind == "remove":
            if len(live_authors) > 5:
                author_id = live_authors.pop(rng.randrange(len(live_authors)))
                removed.add(author_id)

                async def remove(uow: Any) -> None:
                    await uow.authors.remove(author_id)

                await MongoUnitOfWork().run(remove)
        else:
            source, target = rng.sample(accounts, 2)
            try:
                await transfer_funds(
                    MongoUnitOfWork(), source.id, target.id, rng.randint(1, 50)
                )
            except InsufficientFunds:
                pass
        done[kind] += 1

    async def worker() -> None:
        nonlocal budget
        kinds = ["create", "get", "get", "increment", "remove", "transfer", "transfer"]
        while budget > 0 and time.monotonic() - started < DEADLINE_S:
            budget -= 1
            kind = rng.choice(kinds)
            try:
                await one_op(kind)
            except (ConcurrencyConflict, UnitOfWorkError) as exc:
                done[f"{kind} gave up"] += 1  # retries exhausted: nothing was acknowledged
                if kind == "remove":
                    errors.append(exc)  # a removal must not give up: it is checked below
            except BaseException as exc:  # anything else is a failure of the layer
                errors.append(exc)
                return

    async with asyncio.timeout(178):  # the soak stops by itself, at the latest here
        await asyncio.gather(*(worker() for _ in range(TASKS)))
    elapsed = time.monotonic() - started
    total_ops = sum(v for k, v in done.items() if "gave up" not in k)
    rate = total_ops / elapsed
    rate = total_ops / elapsed
    with capsys.disabled():  # shown in CI's output too
        print(f"\nsoak: {total_ops} operations in {elapsed:.1f} s = {rate:.0f} ops/s; {dict(done)}")
    assert not errors, errors[:3]
    assert elapsed < 180

    async with MongoUnitOfWork() as uow:
        stored_accounts = await uow.accounts.find()
        assert sum(a.balance for a in stored_accounts) == ACCOUNTS * BALANCE
        assert all(a.balance >= 0 for a in stored_accounts)
        authors = {a.id for a in await uow.authors.find()}
        assert authors == set(live_authors)  # creates minus deletes, every create readable
        assert not authors & removed
        books = await uow.books.find()
        assert {b.author_id for b in books} <= authors  # no orphan of a cascade
        assert len(books) == len(authors)  # one book per author, and cascades took the rest
        stock = {p.id: p.stock for p in await uow.products.find()}
        assert stock == {p.id: increments[p.id] for p in products}
        assert await uow.books.count(ALL) == len(books)
