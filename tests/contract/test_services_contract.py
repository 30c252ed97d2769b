"""The reference application's services, one test body for every backend: fast unit
tests on the memory adapters, integration tests on the server.  (The repository and
unit-of-work contract itself is ``subject_suite``, run for any registered aggregate.)"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from domain.entities import Account, User
from domain.errors import InsufficientFunds
from domain.library import Author, Book, Contract, Post, Review, Shelf
from domain.services import (
    attach_file,
    deactivate_users,
    delete_author,
    publish_post,
    register_user,
    rename_user,
    transfer_funds,
)
from persistence.errors import Conflict, DeleteDenied, NotFound
from persistence.specs import ALL

UowFactory = Callable[[], Any]


async def _accounts(uow_factory: UowFactory, *balances: int) -> list[Account]:
    accounts = [Account(owner=f"owner{i}", balance=b) for i, b in enumerate(balances)]
    async with uow_factory() as uow:
        await uow.accounts.add_many(accounts)
        await uow.commit()
    return accounts


async def _balances(uow_factory: UowFactory, accounts: list[Account]) -> list[int]:
    async with uow_factory() as uow:
        found = await uow.accounts.get_many([a.id for a in accounts])
    return [a.balance for a in found]


async def test_transfer_funds_moves_money_or_nothing(uow_factory: UowFactory) -> None:
    alice, bob = await _accounts(uow_factory, 100, 20)
    await transfer_funds(uow_factory(), alice.id, bob.id, 30)
    assert await _balances(uow_factory, [alice, bob]) == [70, 50]
    with pytest.raises(InsufficientFunds):
        await transfer_funds(uow_factory(), bob.id, alice.id, 51)
    assert await _balances(uow_factory, [alice, bob]) == [70, 50]
    with pytest.raises(NotFound):
        await transfer_funds(uow_factory(), alice.id, "0" * 24, 1)
    with pytest.raises(ValueError):
        await transfer_funds(uow_factory(), alice.id, bob.id, 0)
    assert await _balances(uow_factory, [alice, bob]) == [70, 50]


async def test_concurrent_transfers_keep_the_total(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    accounts = await _accounts(uow_factory, *([100] * 10))
    rng = random.Random(3)
    plans = []
    for i in range(20):
        source, target = rng.sample(accounts, 2)
        amount = 1000 if i % 3 == 0 else rng.randint(1, 40)  # a third cannot be covered
        plans.append((source.id, target.id, amount))
    results = await asyncio.gather(
        *(transfer_funds(uow_factory(), s, t, a) for s, t, a in plans),
        return_exceptions=True,
    )
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert all(isinstance(results[i], InsufficientFunds) for i in failed), results
    assert failed == [i for i in range(20) if i % 3 == 0]
    expected = {a.id: 100 for a in accounts}
    for i, (source, target, amount) in enumerate(plans):
        if i not in failed:
            expected[source] -= amount
            expected[target] += amount
    balances = await _balances(uow_factory, accounts)
    assert dict(zip([a.id for a in accounts], balances, strict=True)) == expected
    assert sum(balances) == 1000


async def test_publish_post(uow_factory: UowFactory) -> None:
    author = Author(name="Ann")
    post = Post(author_id=author.id, title="Hello", body="First post")
    orphan = Post(author_id="f" * 24, title="Orphan")
    async with uow_factory() as uow:
        await uow.authors.add(author)
        await uow.posts.add_many([post, orphan])
        await uow.commit()
    published = await publish_post(uow_factory(), post.id)
    assert (published.published, published.version) == (True, 1)
    again = await publish_post(uow_factory(), post.id)  # idempotent
    assert again.version == 1
    with pytest.raises(NotFound):
        await publish_post(uow_factory(), orphan.id)
    async with uow_factory() as uow:
        stored = {p.title: p.published for p in await uow.posts.find()}
    assert stored == {"Hello": True, "Orphan": False}


async def test_delete_author_cascades_and_deletes_owned_files(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("files")
    ann, bob = Author(name="Ann"), Author(name="Bob")
    book = Book(title="Ann's book", author_id=ann.id, editor_id=bob.id)
    other = Book(title="Bob's book", author_id=bob.id, editor_id=ann.id)
    async with uow_factory() as uow:
        await uow.authors.add_many([ann, bob])
        await uow.books.add_many([book, other])
        await uow.reviews.add(Review(book_id=book.id, text="good"))
        await uow.posts.add(Post(author_id=ann.id, title="News"))
        await uow.shelves.add(Shelf(name="all", book_ids=[book.id, other.id]))
        await uow.contracts.add(Contract(author_id=ann.id, title="Deal"))
        await uow.commit()
    kept = await attach_file(uow_factory(), other.id, b"bob", "bob.txt", "text/plain")
    owned = await attach_file(uow_factory(), book.id, b"ann", "ann.txt", "text/plain")

    with pytest.raises(DeleteDenied):
        await delete_author(uow_factory(), ann.id)
    async with uow_factory() as uow:
        assert await uow.books.count() == 2
        assert sorted(await uow.files.ids()) == sorted([kept.file_id, owned.file_id])
        await uow.contracts.remove_where(ALL)
        await uow.commit()

    assert await delete_author(uow_factory(), ann.id) == 1
    async with uow_factory() as uow:
        assert [a.name for a in await uow.authors.find()] == ["Bob"]
        [remaining] = await uow.books.find()
        assert (remaining.id, remaining.editor_id) == (other.id, None)
        assert await uow.reviews.count() == 0
        assert await uow.posts.count() == 0
        [shelf] = await uow.shelves.find()
        assert shelf.book_ids == [other.id]
        assert await uow.files.ids() == [kept.file_id]  # the owned file went at the commit
    with pytest.raises(NotFound):
        await delete_author(uow_factory(), ann.id)


async def test_register_rename_and_deactivate_users(uow_factory: UowFactory) -> None:
    user = await register_user(uow_factory(), name="Linus", email="Linus@Example.com")
    assert user.email == "linus@example.com"
    with pytest.raises(Conflict) as info:
        await register_user(uow_factory(), name="Imposter", email="LINUS@example.com")
    assert info.value.field == "email"
    renamed = await rename_user(uow_factory(), user.id, "Linus T.")
    assert renamed.version == 1
    other = await register_user(uow_factory(), name="Other", email="other@example.com")
    assert await deactivate_users(uow_factory(), [user.id, other.id, "0" * 24]) == 2
    async with uow_factory() as uow:
        users = await uow.users.get_many([user.id, other.id])
        assert await uow.users.count() == 2
    assert [(u.name, u.email, u.active, u.version) for u in users] == [
        ("Linus T.", "linus@example.com", False, 2),
        ("Other", "other@example.com", False, 1),
    ]


async def test_a_service_called_inside_a_block_joins_it(
    uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        async with uow:
            await uow.users.add(User(name="Outer", email="outer@example.com"))
            await register_user(uow, name="Inner", email="inner@example.com")  # nested
            raise RuntimeError("the outer block fails after the service committed")
    async with uow:
        assert await uow.users.count() == 0  # the service's commit did not commit
        await register_user(uow, name="Inner", email="inner@example.com")
        await uow.commit()
    async with uow_factory() as check:
        assert [u.email for u in await check.users.find()] == ["inner@example.com"]
