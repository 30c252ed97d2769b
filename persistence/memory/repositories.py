"""A repository over an in-memory table whose writes are staged in its unit of work.

It runs the same document pipeline as the mongo adapter: an entity becomes its
Document (the registry's mapping), is validated by MongoEngine, turned into the stored
document (``to_mongo``) and encoded to BSON and back with the store's codec options;
reads rebuild the entity from the stored document through the Document, as a read from
MongoDB does.  Only the storage differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import mongomock

from persistence.aggregation import Aggregation
from persistence.change_checks import updated_documents
from persistence.document_errors import MAX_RECORD_BYTES, refusals
from persistence.document_schema import holds_decimal128
from persistence.errors import ConcurrencyConflict, Conflict, NotFound
from persistence.mapping import plain, stored_form
from persistence.memory.aggregation import canonical, evaluate
from persistence.memory.comparable import comparable
from persistence.memory.delete_rules import remove_with_rules
from persistence.query.bson_order import bson_sorted
from persistence.query.mongo_filter import db_path
from persistence.query.plan import FindPlan
from persistence.registry import Registration
from persistence.repository_base import RepositoryBase, files_removed_with
from persistence.specs import (
    ALL,
    FIRST_PAGE,
    NO_ORDER,
    Changes,
    Order,
    Page,
    Predicate,
    project_row,
)

if TYPE_CHECKING:
    from persistence.memory.unit_of_work import InMemoryUnitOfWork

E = TypeVar("E")

__all__ = ["DELETED", "InMemoryCrudBase", "InMemoryRepository", "unique_clash"]


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


DELETED: Any = _Deleted()

Son = dict[str, Any]


def _get(son: Son, path: str) -> Any:
    value: Any = son
    for part in ("_id" if path == "id" else path).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def unique_clash(
    registration: Registration[Any], son: Son, items: Iterable[tuple[str, Son]]
) -> str | None:
    """The first unique field ``son`` shares with another of ``items`` (None if none).

    A missing value counts as null, as in a MongoDB unique index.
    """
    own_id = str(son["_id"])
    for group in registration.unique:
        if group == ("id",):
            continue
        key = tuple(_get(son, path) for path in group)
        for other_id, other in items:
            if other_id != own_id and tuple(_get(other, path) for path in group) == key:
                return group[0]
    return None


def _values_at(value: Any, parts: list[str]) -> Iterable[Any]:
    """The values a MongoDB ``distinct`` takes from ``value`` at the path ``parts``: an
    array's elements (one level), through arrays of embedded documents; none where the
    path is missing."""
    if not parts:
        if isinstance(value, list):
            yield from value
        else:
            yield value
    elif isinstance(value, dict):
        if parts[0] in value:
            yield from _values_at(value[parts[0]], parts[1:])
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from _values_at(item, parts)


class InMemoryCrudBase(RepositoryBase[E]):
    """Repository of one registered aggregate over an :class:`InMemoryStore` table.

    Reads see the committed state overlaid with this unit of work's staged writes.
    """

    _uow: InMemoryUnitOfWork

    def __init__(self, uow: InMemoryUnitOfWork, aggregate: Registration[E]) -> None:
        super().__init__(uow, aggregate)
        self._codec = uow.store.codec_options
        self._decimal128 = holds_decimal128(aggregate.document_cls)

    # -- the document pipeline ---------------------------------------------------------

    def to_stored(self, entity: E) -> Son:
        """The document MongoDB would store and return for ``entity`` (validated); the
        document layer's refusals as ``InvalidEntity`` / ``EntityTooLarge``, as on a
        server (an encoding refusal makes the unit rollback-only there, so here too)."""
        with refusals(self._entity_name, entity, mark_rollback_only=self._uow.mark_rollback_only):
            document = self._mapper.to_document(entity)
            document.validate()
            return self.round_trip(document.to_mongo().to_dict())

    def round_trip(self, son: Son) -> Son:
        """``son`` encoded to BSON and decoded, as a server stores and returns it
        (``DocumentTooLarge`` past the server's limit)."""
        return stored_form(son, self._codec, max_bytes=MAX_RECORD_BYTES)

    def to_entity(self, son: Son) -> E:
        """The entity a stored document describes (through the Document)."""
        return self._mapper.from_son(son)

    # -- the visible state ---------------------------------------------------------

    def _committed(self) -> dict[str, Son]:
        return self._uow.store.table(self.name)

    def _staged(self) -> dict[str, Any]:
        return self._uow.staged(self.name)

    def _visible(self, entity_id: str) -> Son | None:
        staged = self._staged()
        if entity_id in staged:
            value = staged[entity_id]
            return None if value is DELETED else value
        return self._committed().get(entity_id)

    def visible_items(self) -> Iterable[tuple[str, Son]]:
        """Every (id, stored document) this unit of work sees, in insertion order."""
        return self._uow.visible(self.name)

    def _check_unique(self, son: Son, items: Iterable[tuple[str, Son]]) -> None:
        field = unique_clash(self.registration, son, items)
        if field is not None:
            raise self._uow.mark_rollback_only(Conflict(self._entity_name, field))

    def _stage(self, son: Son) -> None:
        entity_id = str(son["_id"])
        self._uow.expect(self.name, entity_id)
        self._staged()[entity_id] = son

    # -- the port -------------------------------------------------------------------

    async def add(self, entity: E) -> E:
        """Stage a new entity (``Conflict`` on a duplicate id or unique field)."""
        self._uow.require_active()
        son = self.to_stored(entity)
        if self._visible(str(son["_id"])) is not None:
            raise self._uow.mark_rollback_only(Conflict(self._entity_name, "id"))
        self._check_unique(son, list(self.visible_items()))
        self._stage(son)
        return self.to_entity(son)

    async def get(self, entity_id: str) -> E:
        """The entity (``NotFound`` if absent)."""
        self._uow.require_active()
        son = self._visible(entity_id) if isinstance(entity_id, str) else None
        if son is None:
            raise NotFound(self._entity_name, entity_id)
        return self.to_entity(son)

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """Entities in the order of ``ids``; missing skipped, duplicates collapsed."""
        self._uow.require_active()
        found = []
        for entity_id in dict.fromkeys(ids):
            son = self._visible(entity_id) if isinstance(entity_id, str) else None
            if son is not None:
                found.append(self.to_entity(son))
        return found

    async def save(self, entity: E) -> E:
        """Stage changes if the entity's version is current; bump the version."""
        self._uow.require_active()
        entity_id = entity.id  # type: ignore[attr-defined]
        current = self._visible(entity_id) if isinstance(entity_id, str) else None
        if current is None:
            raise NotFound(self._entity_name, entity_id)
        version_field = self.registration.version_field
        version = getattr(entity, version_field) if version_field is not None else None
        if version_field is not None and version != current.get(version_field):
            conflict = ConcurrencyConflict(
                self._entity_name, entity_id, version_field=version_field
            )
            raise self._uow.mark_rollback_only(conflict)
        stored = (
            attrs.evolve(entity, **{version_field: version + 1})  # type: ignore[misc]
            if version_field is not None and version is not None
            else entity
        )
        son = self.to_stored(stored)
        self._check_unique(son, list(self.visible_items()))
        self._stage(son)
        if version_field is not None and version is not None:
            setattr(entity, version_field, version + 1)
        return entity

    async def remove(self, entity_id: str) -> None:
        """Stage the removal with the delete rules (``NotFound`` if absent)."""
        self._uow.require_active()
        current = self._visible(entity_id) if isinstance(entity_id, str) else None
        if current is None:
            raise NotFound(self._entity_name, entity_id)
        files = await files_removed_with(self, [entity_id])
        remove_with_rules(self._uow, self.name, [entity_id])
        self._uow.files_of_removed(files)


class InMemoryRepository(InMemoryCrudBase[E]):
    """The query methods of the port: plans of the shared spec pipeline
    (:mod:`persistence.query.plan`) run by mongomock over the visible stored documents,
    so the same filter, sort, paging, grouping and update give the same results as on
    a server."""

    def _scratch(self, docs: list[Son]) -> Any:
        """A mongomock collection holding ``docs`` as mongomock compares them."""
        collection: Any = mongomock.MongoClient().db.entities
        if docs:
            collection.insert_many([comparable(doc) for doc in docs] if self._decimal128 else docs)
        return collection

    def _matching(self, query: dict[str, Any], plan: FindPlan | None = None) -> list[Son]:
        """The visible stored documents matching ``query`` (in ``plan``'s order and page),
        as the store holds them: mongomock only finds which they are."""
        visible = dict(self.visible_items())
        cursor = self._scratch(list(visible.values())).find(comparable(query), {"_id": 1})
        if plan is not None:
            cursor = cursor.sort(plan.sort).skip(plan.skip)
            cursor = cursor.limit(plan.limit) if plan.limit else cursor
        return [visible[str(doc["_id"])] for doc in cursor]

    def _ids(self, query: dict[str, Any]) -> list[str]:
        return [str(son["_id"]) for son in self._matching(query)]

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """Entities matching ``spec`` in ``order`` (id last), paged."""
        self._uow.require_active()
        plan = self._plan.find(spec, order, page)
        if plan.empty:
            return []
        return [self.to_entity(son) for son in self._matching(plan.filter, plan)]

    async def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """Entities matching ``spec``, one at a time."""
        for entity in await self.find(spec, order=order):
            yield entity

    async def count(self, spec: Predicate = ALL) -> int:
        """How many entities match ``spec``."""
        self._uow.require_active()
        return len(self._matching(self._plan.where(spec)))

    async def exists(self, spec: Predicate = ALL) -> bool:
        """True if any entity matches ``spec``."""
        return await self.count(spec) > 0

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """Distinct values at ``path`` among matching entities (arrays flattened), in
        MongoDB's order of values."""
        self._uow.require_active()
        parts = db_path(path).split(".")
        found: dict[Any, Any] = {}
        for son in self._matching(self._plan.distinct(path, spec)):
            for value in _values_at(son, parts):
                found.setdefault(canonical(value), value)
        return [plain(v) for v in bson_sorted(found.values())]

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
        plan, fields = self._plan.project(fields, spec, order, page)
        if plan.empty:
            return []
        return [plain(project_row(doc, fields)) for doc in self._matching(plan.filter, plan)]

    async def aggregate(self, spec: Aggregation) -> list[dict[str, Any]]:
        """Rows of ``spec``: its keys and values."""
        self._uow.require_active()
        pipeline = self._plan.aggregation(spec)  # the same checks as on MongoDB
        if not pipeline:
            return []
        matched = [plain(doc) for doc in self._matching(self._plan.where(spec.where))]
        return evaluate(spec, matched, self._as_stored, matched=True)

    def _as_stored(self, query: dict[str, Any]) -> dict[str, Any]:
        """``query`` (over stored values) as the store decodes values: datetimes to
        milliseconds, naive UTC or aware in the store's zone (a server compares them so)."""
        decoded: dict[str, Any] = comparable(self.round_trip(query))
        return decoded

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """Add several entities: all of them, or (on a conflict) none."""
        self._uow.require_active()
        batch = [self.to_stored(entity) for entity in entities]
        items = list(self.visible_items())
        seen_ids = {entity_id for entity_id, _ in items}
        for son in batch:
            entity_id = str(son["_id"])
            if entity_id in seen_ids:
                raise self._uow.mark_rollback_only(Conflict(self._entity_name, "id"))
            self._check_unique(son, items)
            seen_ids.add(entity_id)
            items.append((entity_id, son))
        for son in batch:
            self._stage(son)
        return [self.to_entity(son) for son in batch]

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """Apply ``changes`` to every matching entity (validated first); return the count."""
        self._uow.require_active()
        plan = self._plan.update(spec, changes)
        matched = self._matching(plan.filter)
        ids = [son["_id"] for son in matched]
        updated = []
        with refusals(
            self._entity_name, plan.update, mark_rollback_only=self._uow.mark_rollback_only
        ):
            results = updated_documents(
                self.registration.document_cls,
                self._entity_name,
                matched,
                plan.update,
                validate=plan.per_document,
            )
            for doc in results:
                son = self.round_trip(doc)
                self.to_entity(son)  # the entity must still be valid
                updated.append(son)
        changed = {str(i) for i in ids}
        items = [(i, s) for i, s in self.visible_items() if i not in changed]
        items += [(str(s["_id"]), s) for s in updated]
        for son in updated:
            self._check_unique(son, items)
        for son in updated:
            self._stage(son)
        return len(updated)

    async def remove_where(self, spec: Predicate) -> int:
        """Remove every matching entity; return the count."""
        self._uow.require_active()
        ids = self._ids(self._plan.where(spec))
        if ids:
            files = await files_removed_with(self, ids)
            remove_with_rules(self._uow, self.name, ids)
            self._uow.files_of_removed(files)
        return len(ids)
