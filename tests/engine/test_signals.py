"""Async signal receivers: awaited during ``async_`` operations, refused by sync ones."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from mongoengine import Document, StringField, signals

import persistence.engine  # noqa: F401


class Note(Document):
    text = StringField()


SIGNALS = [
    "pre_save",
    "pre_save_post_validation",
    "post_save",
    "pre_delete",
    "post_delete",
    "pre_bulk_insert",
    "post_bulk_insert",
]


@pytest.fixture
def journal() -> Iterator[list[tuple[str, str]]]:
    """Every signal gets a sync and an async receiver for ``Note``; both write here."""
    entries: list[tuple[str, str]] = []
    receivers = []
    for name in SIGNALS:

        def sync_receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            entries.append((_name, "sync"))

        async def async_receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            await asyncio.sleep(0)  # really suspends: it must be awaited
            entries.append((_name, "async"))

        for receiver in (sync_receiver, async_receiver):
            getattr(signals, name).connect(receiver, sender=Note)
            receivers.append((name, receiver))
    try:
        yield entries
    finally:
        for name, receiver in receivers:
            getattr(signals, name).disconnect(receiver, sender=Note)


def _names(entries: list[tuple[str, str]]) -> list[str]:
    """Signal names in the order sent, each once (sync and async must both be there)."""
    seen: list[str] = []
    for name, _ in entries:
        if not seen or seen[-1] != name:
            seen.append(name)
    return seen


async def test_async_receivers_are_awaited_in_order(
    async_db: Any, journal: list[tuple[str, str]]
) -> None:
    note = Note(text="a")
    await note.async_save()
    assert _names(journal) == ["pre_save", "pre_save_post_validation", "post_save"]
    assert sorted(journal) == sorted(
        [(n, kind) for n in _names(journal) for kind in ("sync", "async")]
    )
    journal.clear()
    await note.async_delete()
    assert _names(journal) == ["pre_delete", "post_delete"]
    assert len(journal) == 4
    journal.clear()
    await Note.objects.async_insert([Note(text="b"), Note(text="c")])
    assert _names(journal) == ["pre_bulk_insert", "post_bulk_insert"]
    assert len(journal) == 4
    assert await async_db["note"].count_documents({}) == 2


async def test_a_pre_save_receiver_runs_before_the_write(async_db: Any) -> None:
    async def stamp(sender: Any, document: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        document.text = document.text.upper()

    signals.pre_save.connect(stamp, sender=Note)
    try:
        await Note(text="quiet").async_save()
    finally:
        signals.pre_save.disconnect(stamp, sender=Note)
    assert [d["text"] async for d in async_db["note"].find()] == ["QUIET"]


async def test_an_error_in_an_async_pre_receiver_stops_the_write(async_db: Any) -> None:
    async def refuse(sender: Any, document: Any, **kwargs: Any) -> None:
        raise PermissionError("not allowed")

    signals.pre_save.connect(refuse, sender=Note)
    try:
        with pytest.raises(PermissionError):
            await Note(text="x").async_save()
    finally:
        signals.pre_save.disconnect(refuse, sender=Note)
    assert await async_db["note"].count_documents({}) == 0


def test_a_sync_operation_reaching_an_async_receiver_raises(sync_db: Any) -> None:
    class SyncNote(Document):
        text = StringField()
        meta = {"db_alias": "sync", "collection": "sync_note"}

    async def audit(sender: Any, **kwargs: Any) -> None:  # pragma: no cover - never runs
        pass

    def count(sender: Any, **kwargs: Any) -> None:
        calls.append(1)

    calls: list[int] = []
    signals.post_save.connect(count, sender=SyncNote)
    SyncNote(text="fine").save()  # sync receivers keep working
    assert calls == [1]
    signals.pre_save.connect(audit, sender=SyncNote)
    try:
        with pytest.raises(RuntimeError, match=r"pre_save receiver .*audit.* coroutine"):
            SyncNote(text="x").save()
    finally:
        signals.pre_save.disconnect(audit, sender=SyncNote)
        signals.post_save.disconnect(count, sender=SyncNote)
    assert [d["text"] for d in sync_db["sync_note"].find()] == ["fine"]
