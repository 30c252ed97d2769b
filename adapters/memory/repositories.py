"""A dict-backed repository whose writes are staged in its unit of work."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from domain.errors import ConcurrencyConflict, Conflict, NotFound

if TYPE_CHECKING:
    from .unit_of_work import InMemoryUnitOfWork

E = TypeVar("E")

__all__ = ["DELETED", "InMemoryRepository"]


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


DELETED: Any = _Deleted()


class InMemoryRepository(Generic[E]):
    """Repository of one entity type over an :class:`InMemoryStore` table.

    Reads see the committed state overlaid with this unit of work's staged writes;
    every entity goes in and out as a deep copy, so nothing uncommitted leaks.
    """

    def __init__(
        self,
        uow: InMemoryUnitOfWork,
        table: str,
        entity_cls: type[E],
        unique: tuple[str, ...] = (),
    ) -> None:
        self._uow = uow
        self.table = table
        self._name = entity_cls.__name__
        self.unique = unique

    # -- the visible state ---------------------------------------------------------

    def _committed(self) -> dict[str, Any]:
        return self._uow.store.table(self.table)

    def _staged(self) -> dict[str, Any]:
        return self._uow.staged(self.table)

    def _visible(self, entity_id: str) -> Any | None:
        staged = self._staged()
        if entity_id in staged:
            value = staged[entity_id]
            return None if value is DELETED else value
        return self._committed().get(entity_id)

    def visible_items(self) -> Iterable[tuple[str, Any]]:
        """Every (id, entity) this unit of work sees, in insertion order."""
        staged = self._staged()
        for entity_id, entity in self._committed().items():
            current = staged.get(entity_id, entity)
            if current is not DELETED:
                yield entity_id, current
        for entity_id, entity in staged.items():
            if entity_id not in self._committed() and entity is not DELETED:
                yield entity_id, entity

    def check_unique(self, entity: Any, items: Iterable[tuple[str, Any]]) -> None:
        """``Conflict`` if another entity among ``items`` has one of ``entity``'s unique values."""
        for field in self.unique:
            value = getattr(entity, field)
            for other_id, other in items:
                if other_id != entity.id and getattr(other, field) == value:
                    raise Conflict(self._name, field)


    # -- the port -------------------------------------------------------------------

    async def add(self, entity: E) -> E:
        """Stage a new entity (``Conflict`` on a duplicate id or unique field)."""
        self._uow.require_active()
        entity_id = entity.id  # type: ignore[attr-defined]
        if self._visible(entity_id) is not None:
            raise self._uow.doom(Conflict(self._name, "id"))
        try:
            self.check_unique(entity, list(self.visible_items()))
        except Conflict as error:
            raise self._uow.doom(error) from None
        self._uow.expect(self.table, entity_id)
        self._staged()[entity_id] = copy.deepcopy(entity)
        return copy.deepcopy(entity)

    async def get(self, entity_id: str) -> E:
        """A copy of the entity (``NotFound`` if absent)."""
        self._uow.require_active()
        entity = self._visible(entity_id)
        if entity is None:
            raise NotFound(self._name, entity_id)
        return copy.deepcopy(entity)  # type: ignore[no-any-return]

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """Copies in the order of ``ids``; missing skipped, duplicates collapsed."""
        self._uow.require_active()
        found = []
        for entity_id in dict.fromkeys(ids):
            entity = self._visible(entity_id)
            if entity is not None:
                found.append(copy.deepcopy(entity))
        return found

    async def save(self, entity: E) -> E:
        """Stage changes if ``entity.version`` is current; bump the version."""
        self._uow.require_active()
        entity_id = entity.id  # type: ignore[attr-defined]
        current = self._visible(entity_id)
        if current is None:
            raise NotFound(self._name, entity_id)
        version = getattr(entity, "version", None)
        if version is not None and version != current.version:
            raise self._uow.doom(ConcurrencyConflict(self._name, entity_id))
        try:
            self.check_unique(entity, list(self.visible_items()))
        except Conflict as error:
            raise self._uow.doom(error) from None
        self._uow.expect(self.table, entity_id)
        if version is not None:
            entity.version = version + 1  # type: ignore[attr-defined]
        self._staged()[entity_id] = copy.deepcopy(entity)
        return entity

    async def remove(self, entity_id: str) -> None:
        """Stage the removal (``NotFound`` if absent)."""
        self._uow.require_active()
        current = self._visible(entity_id)
        if current is None:
            raise NotFound(self._name, entity_id)
        self._uow.expect(self.table, entity_id)
        self._staged()[entity_id] = DELETED
