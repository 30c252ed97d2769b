"""A dict-backed repository whose writes are staged in its unit of work."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import mongomock

from domain.aggregation import Aggregation
from domain.codec import from_dict, to_dict
from domain.errors import ConcurrencyConflict, Conflict, NotFound
from domain.schema import entity_schema
from domain.specs import (
    ALL,
    FIRST_PAGE,
    NO_ORDER,
    Changes,
    Order,
    Page,
    Predicate,
    field_paths,
    project_row,
    validate_changes,
    validate_paths,
)

from ..derived_queries import DerivedQueries
from ..mongo_query import (
    compile_changes,
    compile_filter,
    compile_sort,
    db_path,
    keyset_filter,
)
from .aggregation import evaluate
from .delete_rules import remove_with_rules

if TYPE_CHECKING:
    from .unit_of_work import InMemoryUnitOfWork

E = TypeVar("E")

__all__ = ["DELETED", "InMemoryQueries", "InMemoryRepository"]


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
        self.entity_cls = entity_cls
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
        """Stage the removal with the delete rules (``NotFound`` if absent)."""
        self._uow.require_active()
        current = self._visible(entity_id)
        if current is None:
            raise NotFound(self._name, entity_id)
        remove_with_rules(self._uow, self.table, [entity_id])


class InMemoryQueries(InMemoryRepository[E], DerivedQueries[E]):
    """The query methods of the port, evaluated with MongoDB's semantics.

    The visible entities are loaded into a throwaway mongomock collection, and the spec
    is compiled exactly as the mongo adapter compiles it: the same filter, sort, paging,
    grouping and update documents give the same results as on a server.
    """

    def _scratch(self) -> Any:
        collection = mongomock.MongoClient().db.entities
        docs = []
        for entity_id, entity in self.visible_items():
            doc = _stored(to_dict(entity))
            doc["_id"] = doc.pop("id", entity_id)
            docs.append(doc)
        if docs:
            collection.insert_many(docs)
        return collection

    def _check(self, paths: Iterable[str]) -> None:
        validate_paths(self.entity_cls, paths)

    def _filter(self, spec: Predicate, order: Order, page: Page) -> dict[str, Any]:
        self._check([*field_paths(spec), *(k.path for k in order.keys)])
        parts = [compile_filter(spec), keyset_filter(order, page)]
        return {"$and": [p for p in parts if p]} if any(parts) else {}

    def _cursor(self, spec: Predicate, order: Order, page: Page) -> Any:
        cursor = self._scratch().find(self._filter(spec, order, page))
        cursor = cursor.sort(compile_sort(order)).skip(page.skip)
        return cursor.limit(page.limit) if page.limit else cursor

    def _entities(self, docs: Iterable[dict[str, Any]]) -> list[E]:
        return [copy.deepcopy(self._visible(doc["_id"])) for doc in docs]

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """Entities matching ``spec`` in ``order`` (id last), paged."""
        self._uow.require_active()
        if page.limit == 0:
            return []
        return self._entities(self._cursor(spec, order, page))

    async def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """Entities matching ``spec``, one at a time."""
        for entity in await self.find(spec, order=order):
            yield entity



    async def count(self, spec: Predicate = ALL) -> int:
        """How many entities match ``spec``."""
        self._uow.require_active()
        self._check(field_paths(spec))
        return self._scratch().count_documents(compile_filter(spec))  # type: ignore[no-any-return]

    async def exists(self, spec: Predicate = ALL) -> bool:
        """True if any entity matches ``spec``."""
        return await self.count(spec) > 0

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """Distinct values at ``path`` among matching entities (arrays flattened)."""
        self._uow.require_active()
        self._check([path, *field_paths(spec)])
        return list(self._scratch().distinct(db_path(path), compile_filter(spec)))

    async def project(
        self,
        fields: Iterable[str],
        spec: Predicate = ALL,
        *,
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[dict[str, Any]]:
        """Only ``fields`` (and ``id``) of matching entities, as dicts keyed by path."""
        self._uow.require_active()
        fields = tuple(fields)
        self._check(fields)
        if page.limit == 0:
            return []
        return [project_row(doc, fields) for doc in self._cursor(spec, order, page)]

    async def aggregate(self, spec: Aggregation) -> list[dict[str, Any]]:
        """Rows of ``spec``: its keys and values."""
        self._uow.require_active()
        spec.check(entity_schema(self.entity_cls), self._name)
        return evaluate(spec, self._scratch().find())

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """Add several entities: all of them, or (on a conflict) none."""
        self._uow.require_active()
        batch = [copy.deepcopy(e) for e in entities]
        items = list(self.visible_items())
        seen_ids = {entity_id for entity_id, _ in items}
        for entity in batch:
            entity_id = entity.id  # type: ignore[attr-defined]
            if entity_id in seen_ids:
                raise self._uow.doom(Conflict(self._name, "id"))
            try:
                self.check_unique(entity, items)
            except Conflict as error:
                raise self._uow.doom(error) from None
            seen_ids.add(entity_id)
            items.append((entity_id, entity))
        for entity in batch:
            self._uow.expect(self.table, entity.id)  # type: ignore[attr-defined]
            self._staged()[entity.id] = entity  # type: ignore[attr-defined]
        return [copy.deepcopy(e) for e in batch]

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """Apply ``changes`` to every matching entity (validated first); return the count."""
        self._uow.require_active()
        self._check([*field_paths(spec), *(c.path for c in changes.items)])
        changes = validate_changes(self.entity_cls, changes)
        scratch = self._scratch()
        ids = [doc["_id"] for doc in scratch.find(compile_filter(spec), {"_id": 1})]
        update = compile_changes(changes)
        if "version" in attrs.fields_dict(self.entity_cls) and not _touches(changes, "version"):
            update.setdefault("$inc", {})["version"] = 1
        scratch.update_many({"_id": {"$in": ids}}, update)
        updated = []
        for doc in scratch.find({"_id": {"$in": ids}}):
            doc["id"] = doc.pop("_id")
            updated.append(from_dict(self.entity_cls, doc))  # validates every entity
        items = [(i, e) for i, e in self.visible_items() if i not in set(ids)]
        for entity in updated:
            try:
                self.check_unique(entity, [*items, *((u.id, u) for u in updated)])  # type: ignore[attr-defined]
            except Conflict as error:
                raise self._uow.doom(error) from None
        for entity in updated:
            self._uow.expect(self.table, entity.id)  # type: ignore[attr-defined]
            self._staged()[entity.id] = entity  # type: ignore[attr-defined]
        return len(updated)

    async def remove_where(self, spec: Predicate) -> int:
        """Remove every matching entity; return the count."""
        self._uow.require_active()
        self._check(field_paths(spec))
        ids = [doc["_id"] for doc in self._scratch().find(compile_filter(spec), {"_id": 1})]
        if ids:
            remove_with_rules(self._uow, self.table, ids)
        return len(ids)


def _stored(value: Any) -> Any:
    """A document as MongoEngine stores it: fields holding None are left out."""
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def _touches(changes: Changes, path: str) -> bool:
    return any(c.path == path for c in changes.items)
