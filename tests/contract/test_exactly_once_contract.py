"""Exactly-once blocks (issue 22, point 2), on memory and the server: a commit whose
answer is lost is settled from its commit record before anything else happens, so
``uow.run`` never runs a block again after a commit that landed, and does run it again
after one that did not.

The lost answer is simulated on memory by the store's test hook
(``lose_commit_replies``) and made by fail points on the server: ``writeConcernError``
on ``commitTransaction`` (the commit is applied, then the error comes back, labelled
``UnknownTransactionCommitResult``) and ``errorCode: 50`` (refused before it runs, with
the same label).  Connections lost after the commit ran are in
``tests/reliability/test_exactly_once.py``.
mongomock has no transactions, so no commit to lose.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from domain.entities import User
from persistence.commit_records import COLLECTION
from persistence.engine import get_async_connection, get_async_db
from persistence.errors import CommitOutcomeUnknown, StoreUnavailable
from persistence.memory import InMemoryUnitOfWork
from persistence.memory.store import InMemoryStore
from persistence.testing import async_fail_point

UowFactory = Callable[[], Any]
LoseAnswer = Callable[[bool], contextlib.AbstractAsyncContextManager[None]]


@pytest.fixture
def lose_answer(
    backend_name: str, uow_factory: UowFactory, requires: Callable[[str], None]
) -> LoseAnswer:
    """``async with lose_answer(applied):`` the next commit's answer is lost; the commit
    lands or not as ``applied`` says."""
    requires("transactions")
    if backend_name == "memory":

        @contextlib.asynccontextmanager
        async def on_memory(applied: bool) -> AsyncIterator[None]:
            store = uow_factory().store
            store.lose_commit_replies(applied=applied)
            yield

        return on_memory

    @contextlib.asynccontextmanager
    async def on_server(applied: bool) -> AsyncIterator[None]:
        data: dict[str, Any] = {"failCommands": ["commitTransaction"]}
        if applied:  # applied, then an error that does not say so
            data["writeConcernError"] = {"code": 64, "errmsg": "waiting for replication"}
        else:  # refused before it runs, with an error that does not say so
            data["errorCode"] = 50  # MaxTimeMSExpired: UnknownTransactionCommitResult
        async with async_fail_point(get_async_connection(), mode={"times": 1}, data=data):
            yield

    return on_server


async def _emails(uow_factory: UowFactory) -> list[str]:
    async with uow_factory() as uow:
        return sorted(u.email for u in await uow.users.find())


async def test_a_block_whose_commit_landed_is_not_run_again(
    uow_factory: UowFactory, lose_answer: LoseAnswer
) -> None:
    runs = []

    async def register(uow: Any) -> str:
        runs.append(1)
        user = await uow.users.add(User(name="Ann", email="ann@example.com"))
        return str(user.id)

    uow = uow_factory()
    async with uow:  # the collections exist before the fail point
        await uow.users.count()
    async with lose_answer(True):
        user_id = await uow.run(register)
    assert len(runs) == 1  # the lost answer was settled: it landed, nothing re-ran
    assert await _emails(uow_factory) == ["ann@example.com"]
    async with uow_factory() as reader:
        assert (await reader.users.get(user_id)).name == "Ann"


async def test_a_block_whose_commit_did_not_land_is_run_again(
    uow_factory: UowFactory, lose_answer: LoseAnswer
) -> None:
    runs = []

    async def register(uow: Any) -> None:
        runs.append(1)
        await uow.users.add(User(name=f"Ann {len(runs)}", email="ann@example.com"))

    uow = uow_factory()
    async with uow:
        await uow.users.count()
    async with lose_answer(False):
        with pytest.raises(StoreUnavailable) as raised:  # one attempt: the error itself
            async with uow:
                await register(uow)
                await uow.commit()
    assert raised.value.retry_safe  # settled: it did not land, and never will
    assert await _emails(uow_factory) == []
    async with lose_answer(False):
        await uow.run(register)  # the first attempt's commit is lost, the second lands
    assert len(runs) == 3
    async with uow_factory() as reader:
        assert [u.name for u in await reader.users.find()] == ["Ann 3"]


async def test_a_commit_whose_outcome_cannot_be_learnt_is_never_run_again(
    backend_name: str, uow_factory: UowFactory
) -> None:
    """The store stays out of reach while the outcome is learnt (simulated on memory;
    on the server see tests/reliability/test_exactly_once.py)."""
    if backend_name != "memory":
        pytest.skip("the server's variant stops the server: reliability/test_exactly_once.py")
    uow: InMemoryUnitOfWork = uow_factory()
    runs = []

    async def register(uow: Any) -> None:
        runs.append(1)
        await uow.files.put(b"avatar", filename="ann.png")
        await uow.users.add(User(name="Ann", email="ann@example.com"))

    uow.store.lose_commit_replies(applied=True, resolvable=False)
    with pytest.raises(CommitOutcomeUnknown) as raised:
        await uow.run(register)
    assert len(runs) == 1  # never run again: it may have landed (here it did)
    assert not raised.value.retry_safe
    assert raised.value.commit_id in uow.store.commit_records  # the id to look for
    assert await uow.commit_landed(raised.value.commit_id)  # learnt once the store answers
    assert await _emails(uow_factory) == ["ann@example.com"]
    assert len(await uow.store.files.ids()) == 1  # its file kept, not compensated away


async def test_commit_records_are_kept_for_their_retention(
    backend_name: str, uow_factory: UowFactory, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    uow = uow_factory()
    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    if backend_name == "memory":
        store: InMemoryStore = uow.store
        assert len(store.commit_records) == 1
        store.commit_retention = 0.0  # every older record has expired at the next commit
        async with uow:
            await uow.users.add(User(name="Bob", email="bob@example.com"))
            await uow.commit()
        assert len(store.commit_records) == 1
        return
    records = get_async_db()[COLLECTION]
    assert await records.count_documents({}) == 1
    indexes = await records.index_information()
    ttl = [i for i in indexes.values() if i.get("expireAfterSeconds") is not None]
    assert ttl == [{"v": ttl[0]["v"], "key": [("at", 1)], "expireAfterSeconds": 3600}]


async def test_a_block_that_only_reads_writes_no_record_and_is_not_run_again(
    backend_name: str, uow_factory: UowFactory, lose_answer: LoseAnswer
) -> None:
    """Landed or not, a commit of reads only loses and repeats nothing: its answer lost,
    ``run`` returns what the block read."""
    uow = uow_factory()
    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    runs = []

    async def count(uow: Any) -> int:
        runs.append(1)
        return int(await uow.users.count())

    async with lose_answer(False):
        assert await uow.run(count) == 1
    assert runs == [1]
    if backend_name == "memory":
        assert len(uow.store.commit_records) == 1  # Ann's block only
    else:
        assert await get_async_db()[COLLECTION].count_documents({}) == 1
