"""The in-memory unit of work: writes staged in an overlay, applied atomically on commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.errors import ConcurrencyConflict, Conflict
from persistence.registry import Registration, Registry

from ..unit_of_work import BaseUnitOfWork
from .files import InMemoryFileStore
from .repositories import DELETED, InMemoryQueries, unique_clash
from .store import InMemoryStore

__all__ = ["InMemoryUnitOfWork"]


class InMemoryUnitOfWork(BaseUnitOfWork):
    """``async with uow:`` stages writes; ``commit()`` applies them all or none.

    Same rule as every unit of work: leaving the block without ``commit()`` rolls
    back.  Units of work on one :class:`InMemoryStore` (for example one per task) never
    see each other's uncommitted writes; a commit whose reads went stale (another unit
    committed a newer version meanwhile) raises ``ConcurrencyConflict`` and applies
    nothing.  ``files`` is the store's :class:`InMemoryFileStore` with the port's
    compensation.  ``read_only=True`` (or :meth:`reading`): writes raise
    ``UnitOfWorkError``.
    """

    def __init__(
        self,
        registry: Registry,
        store: InMemoryStore | None = None,
        *,
        files: InMemoryFileStore | None = None,
        read_only: bool = False,
    ) -> None:
        store = store if store is not None else InMemoryStore()
        self._file_store = files if files is not None else store.files
        super().__init__(registry, self._file_store, read_only=read_only)
        self.store = store
        self._staged: dict[str, dict[str, Any]] = {}
        # (name, id) -> the committed document the staged write was based on (None: absent)
        self._expected: dict[tuple[str, str], Any] = {}

    def reading(self) -> InMemoryUnitOfWork:
        """A read-only unit of work on the same store: each read sees what is committed
        when it runs; writes raise ``UnitOfWorkError``."""
        return InMemoryUnitOfWork(self.registry, self.store, files=self._file_store, read_only=True)

    def _make_repository(self, aggregate: Registration[Any]) -> InMemoryQueries[Any]:
        return InMemoryQueries(self, aggregate)

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

    async def _abort(self, error: BaseException | None) -> None:
        await self._begin()

    async def _commit(self) -> None:
        """Check every staged write against the committed state, then apply them all."""
        async with self.store.commit_lock:
            self._check()
            for name, writes in self._staged.items():
                committed = self.store.table(name)
                for entity_id, son in writes.items():
                    if son is DELETED:
                        committed.pop(entity_id, None)
                    else:
                        committed[entity_id] = son

    def _check(self) -> None:
        for (name, entity_id), based_on in self._expected.items():
            committed = self.store.table(name).get(entity_id)
            if committed is based_on:
                continue
            entity = self.registry.registration(name).entity_cls.__name__
            if based_on is None:
                raise Conflict(entity, "id")
            raise ConcurrencyConflict(entity, entity_id)
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
