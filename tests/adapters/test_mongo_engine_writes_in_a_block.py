"""Engine writes made directly inside a unit of work's block (``Document.async_save``,
``queryset.async_update``, ...) join its transaction, and its commit is exactly-once
for them as for repository writes: the commit writes a commit record, so a lost commit
answer is settled from it instead of passing for a landed commit.  A block of
repository reads alone still commits without a record."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.documents import UserDocument
from adapters.registry import registry
from domain.entities import User
from persistence.commit_records import COLLECTION
from persistence.engine import get_async_connection
from persistence.errors import StoreUnavailable
from persistence.mongo import MongoUnitOfWork
from persistence.testing import async_fail_point


def _lost_answer(applied: bool) -> Any:
    """The next commit's answer is lost; the commit lands or not as ``applied`` says."""
    data: dict[str, Any] = {"failCommands": ["commitTransaction"]}
    if applied:
        data["writeConcernError"] = {"code": 64, "errmsg": "waiting for replication"}
    else:
        data["errorCode"] = 50  # refused before it runs, labelled UnknownTransactionCommitResult
    return async_fail_point(get_async_connection(), mode={"times": 1}, data=data)


async def test_a_lost_answer_to_a_commit_that_did_not_land_is_not_success(
    async_alias: Any,
) -> None:
    uow = MongoUnitOfWork(registry)
    async with uow:
        await UserDocument(name="Ann", email="ann@example.com").async_save()
        async with _lost_answer(applied=False):
            with pytest.raises(StoreUnavailable) as raised:
                await uow.commit()
    assert raised.value.retry_safe  # settled: it did not land and never will
    assert await async_alias["users"].count_documents({}) == 0
    assert await async_alias[COLLECTION].count_documents({"void": True}) == 1


async def test_a_lost_answer_to_a_commit_that_landed_is_success(async_alias: Any) -> None:
    uow = MongoUnitOfWork(registry)
    async with uow:
        await UserDocument.objects(email="x@example.com").async_update(
            upsert=True, set__name="Bo"
        )
        async with _lost_answer(applied=True):
            await uow.commit()
    assert await async_alias["users"].count_documents({"name": "Bo"}) == 1
    records = await async_alias[COLLECTION].find({}).to_list()
    assert len(records) == 1 and not records[0].get("void")


async def test_run_reruns_an_engine_block_only_when_it_did_not_land(async_alias: Any) -> None:
    runs = []

    async def work(uow: Any) -> None:
        runs.append(1)
        await UserDocument(name=f"U{len(runs)}", email=f"u{len(runs)}@example.com").async_save()
        if len(runs) == 1:
            async with _lost_answer(applied=False):
                await uow.commit()

    await MongoUnitOfWork(registry).run(work)
    assert len(runs) == 2
    assert [d["name"] async for d in async_alias["users"].find({})] == ["U2"]


async def test_a_block_of_repository_reads_commits_without_a_record(async_alias: Any) -> None:
    uow = MongoUnitOfWork(registry)
    async with uow:
        await uow.users.add(User(name="Ann", email="ann@example.com"))
        await uow.commit()
    assert await async_alias[COLLECTION].count_documents({}) == 1
    async with uow:
        assert [u.name for u in await uow.users.find()] == ["Ann"]
        assert await uow.users.count() == 1
        await uow.commit()
    assert await async_alias[COLLECTION].count_documents({}) == 1  # no new record
