"""The in-memory unit of work: writes staged in an overlay, applied atomically on commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson

from persistence.commit_records import AmbiguousCommit, CommitRecord, new_commit_record
from persistence.errors import ConcurrencyConflict, Conflict, StoreUnavailable
from persistence.memory.files import InMemoryFileStore
from persistence.memory.repositories import DELETED, InMemoryRepository, unique_clash
from persistence.memory.store import InMemoryStore
from persistence.outbox.recording import keys_needed, record_events, utcnow
from persistence.registry import Registration, Registry
from persistence.retry_policy import RetryPolicy
from persistence.unit_of_work import BaseUnitOfWork

__all__ = ["InMemoryUnitOfWork"]


class InMemoryUnitOfWork(BaseUnitOfWork):
    """``async with uow:`` stages writes; ``commit()`` applies them all or none.

    Same rule as every unit of work: leaving the block without ``commit()`` rolls
    back.  Blocks on one :class:`InMemoryStore` (of one unit shared by several tasks, or
    of several units) never see each other's uncommitted writes; a commit whose reads
    went stale (another block committed a newer version meanwhile) raises
    ``ConcurrencyConflict`` and applies nothing.  Each commit keeps a commit record in
    the store with its writes, as the MongoDB adapter does; the store's
    :meth:`~InMemoryStore.lose_commit_replies` simulates a commit whose answer is lost.
    ``files`` is the store's :class:`InMemoryFileStore` with the port's compensation.
    ``read_only=True`` (or :meth:`reading`): writes raise ``UnitOfWorkError``.
    """

    def __init__(
        self,
        registry: Registry,
        store: InMemoryStore | None = None,
        *,
        files: InMemoryFileStore | None = None,
        read_only: bool = False,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        store = store if store is not None else InMemoryStore()
        self._file_store = files if files is not None else store.files
        super().__init__(registry, self._file_store, read_only=read_only, retry_policy=retry_policy)
        self.store = store
        self.commit_retention = store.commit_retention

    def _init_block(self) -> None:
        super()._init_block()
        self._staged: dict[str, dict[str, Any]] = {}
        # (name, id) -> the committed document the staged write was based on (None: absent)
        self._expected: dict[tuple[str, str], Any] = {}
        self._unresolvable = False  # a simulated outage while an outcome is learnt
        self._marks: set[str] = set()  # processed marks written in the unit

    def reading(self) -> InMemoryUnitOfWork:
        """A read-only unit of work on the same store: each read sees what is committed
        when it runs; writes raise ``UnitOfWorkError``."""
        return InMemoryUnitOfWork(
            self.registry,
            self.store,
            files=self._file_store,
            read_only=True,
            retry_policy=self.retry_policy,
        )

    def _make_repository(self, aggregate: Registration[Any]) -> InMemoryRepository[Any]:
        return InMemoryRepository(self, aggregate)

    # -- staging (used by the repositories) --------------------------------------------

    def stage(self, name: str, entity_id: str, son: dict[str, Any] | None) -> None:
        """Stage ``son`` (None: a removal) as the new state of ``name``'s ``entity_id``."""
        self.expect(name, entity_id)
        self.staged(name)[entity_id] = DELETED if son is None else son

    def staged(self, name: str) -> dict[str, Any]:
        """The staged writes of repository ``name`` (``DELETED`` marks a removal)."""
        return self._staged.setdefault(name, {})

    def expect(self, name: str, entity_id: str) -> None:
        """Remember what a staged write was based on, the first time it is staged."""
        self._expected.setdefault((name, entity_id), self.store.table(name).get(entity_id))

    def visible(self, name: str) -> Iterable[tuple[str, dict[str, Any]]]:
        """Every (id, stored document) of repository ``name`` this unit sees."""
        staged = self.staged(name)
        committed = self.store.table(name)
        for entity_id, son in committed.items():
            current = staged.get(entity_id, son)
            if current is not DELETED:
                yield entity_id, current
        for entity_id, son in staged.items():
            if entity_id not in committed and son is not DELETED:
                yield entity_id, son

    # -- the hooks ------------------------------------------------------------------------

    async def _begin(self) -> None:
        self._staged = {}
        self._expected = {}
        self._marks = set()

    async def _record_processed(self, key: str) -> bool:
        async with self.operation():
            if key in self.store.processed:
                return False
            self._marks.add(key)
            return True

    async def _abort(self, error: BaseException | None) -> None:
        await self._begin()

    async def _commit(self) -> None:
        """Check every staged write against the committed state, then apply them all
        with the commit record (unless a simulated lost answer says otherwise)."""
        async with self.store.commit_lock:
            self._check()
            events = self._published_events
            wrote = any(self._staged.values()) or bool(events) or bool(self._marks)
            record = new_commit_record() if wrote else None
            lost = self.store.take_lost_reply() if wrote else None  # only reads: nothing to lose
            if lost is None or lost.applied:
                for name, writes in self._staged.items():
                    committed = self.store.table(name)
                    for entity_id, son in writes.items():
                        if son is DELETED:
                            committed.pop(entity_id, None)
                        else:
                            committed[entity_id] = son
                self.store.processed.update(self._marks)
                if record is not None:
                    self.store.keep_commit_record(record.id)
                    if events:
                        await self._keep_events(record.id, events)
            if lost is not None and record is not None:
                self._unresolvable = not lost.resolvable
                raise AmbiguousCommit(record, "the commit's answer was lost (simulated)")

    async def _keep_events(self, commit_id: str, events: list[Any]) -> None:
        """Append the commit's record with its events to the store's outbox (stored as
        the server would return them) and wake the consumers."""
        store = self.store
        last = {}
        for key, count in keys_needed(events).items():
            last[key] = store.outbox_keys[key] = store.outbox_keys.get(key, 0) + count
        record = {
            "_id": commit_id,
            "published": utcnow(),
            "events": record_events(commit_id, events, last),
            "done": [],
        }
        store.outbox.append(bson.decode(bson.encode(record), store.codec_options))
        async with store.outbox_changed:
            store.outbox_changed.notify_all()

    async def _commit_landed(self, record: CommitRecord) -> bool:
        if self._unresolvable:
            raise StoreUnavailable("the store is unreachable (simulated)", retry_safe=True)
        return record.id in self.store.commit_records

    def _check(self) -> None:
        for mark in self._marks:
            if mark in self.store.processed:  # a concurrent block marked it first
                raise ConcurrencyConflict("processed event", mark)
        for (name, entity_id), based_on in self._expected.items():
            committed = self.store.table(name).get(entity_id)
            if committed is based_on:
                continue
            registration = self.registry.registration(name)
            entity = registration.entity_cls.__name__
            if based_on is None:
                raise Conflict(entity, "id")
            raise ConcurrencyConflict(  # another unit of work committed it first
                entity,
                entity_id,
                write_conflict=True,
                version_field=registration.version_field,
            )
        for name, writes in self._staged.items():
            aggregate = self.registry.registration(name)
            if not aggregate.unique:
                continue
            final = list(self._final_items(name))
            for son in writes.values():
                if son is not DELETED:
                    field = unique_clash(aggregate, son, final)
                    if field is not None:
                        raise Conflict(aggregate.entity_cls.__name__, field)

    def _final_items(self, name: str) -> Iterable[tuple[str, dict[str, Any]]]:
        final = dict(self.store.table(name))
        for entity_id, son in self.staged(name).items():
            if son is DELETED:
                final.pop(entity_id, None)
            else:
                final[entity_id] = son
        return final.items()
