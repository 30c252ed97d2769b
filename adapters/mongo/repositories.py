"""A generic async repository over a MongoEngine Document class."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
from bson import ObjectId
from mongoengine.errors import BulkWriteError, NotUniqueError, OperationError
from pymongo.errors import OperationFailure

from domain.errors import ConcurrencyConflict, Conflict, DeleteDenied, DomainError, NotFound
from domain.relations import Rule, relations_to
from domain.specs import (
    ALL,
    FIRST_PAGE,
    NO_ORDER,
    Changes,
    GroupBy,
    Order,
    Page,
    Predicate,
    field_paths,
    project_row,
    validate_changes,
    validate_paths,
)
from persistence.mapping import DocumentMapper, plain, to_object_id
from persistence.models import DOCUMENTS

from ..derived_queries import DerivedQueries
from ..error_chain import error_chain
from ..mongo_query import (
    compile_changes,
    compile_filter,
    compile_group,
    group_rows,
    keyset_filter,
)
from .errors import (
    conflict_from,
    duplicated_field,
    is_duplicate_key,
    refusals,
    unavailable_from,
)

if TYPE_CHECKING:
    from .unit_of_work import MongoUnitOfWork

E = TypeVar("E")

_WRITE_CONFLICT = 112

__all__ = ["MongoQueries", "MongoRepository"]


def _is_write_conflict(exc: BaseException | None) -> bool:
    return any(
        isinstance(link, OperationFailure) and link.code == _WRITE_CONFLICT
        for link in error_chain(exc)
    )


def _is_denied(exc: OperationError) -> bool:
    """MongoEngine's refusal by a DENY delete rule."""
    return str(exc).startswith("Could not delete document (")


class MongoRepository(Generic[E]):
    """Repository of one aggregate type; used through a :class:`MongoUnitOfWork`.

    Every operation runs in the unit of work's transaction (the session is bound to the
    task) and operations of one unit of work never overlap on its session.
    """

    def __init__(self, uow: MongoUnitOfWork, table: str, mapper: DocumentMapper[E, Any]) -> None:
        self._uow = uow
        self.table = table
        self._mapper = mapper
        self._document = mapper.document_cls
        self._name = mapper.entity_cls.__name__

    @asynccontextmanager
    async def _op(self, entity_id: Any = None, *, writing: bool = False) -> AsyncIterator[None]:
        """One operation on the unit's session; a write conflict with a concurrent
        transaction becomes ``ConcurrencyConflict`` (and the unit rollback-only), an
        outage ``StoreUnavailable`` (retry-safe in a transaction or for a read)."""
        async with self._uow.operation():
            try:
                yield
            except DomainError:
                raise
            except Exception as exc:
                if _is_write_conflict(exc):
                    conflict = ConcurrencyConflict(self._name, entity_id)
                    raise self._uow.doom(conflict) from exc
                in_transaction = self._uow.transactions
                unavailable = unavailable_from(exc, retry_safe=in_transaction or not writing)
                if unavailable is None:
                    raise
                if in_transaction:
                    self._uow.doom(unavailable)
                raise unavailable from exc

    async def add(self, entity: E) -> E:
        """Insert a new entity (``Conflict`` on a duplicate id or unique field)."""
        with refusals(self._name, entity):
            document = self._mapper.to_document(entity)
            document.validate()
        async with self._op(writing=True):
            try:
                with refusals(self._name, entity, doom=self._uow.doom):
                    await document.async_save(force_insert=True, validate=False)
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, document)
                raise self._uow.doom(conflict) from None
        return self._mapper.to_entity(document)

    async def get(self, entity_id: str) -> E:
        """The entity with ``entity_id`` (``NotFound`` if absent)."""
        oid = to_object_id(entity_id)
        if oid is None:
            raise NotFound(self._name, entity_id)
        async with self._op():
            document = await self._document.objects(pk=oid).async_first()
        if document is None:
            raise NotFound(self._name, entity_id)
        return self._mapper.to_entity(document)

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """Entities for ``ids`` in that order; missing ids skipped, duplicates collapsed."""
        wanted = list(dict.fromkeys(ids))
        oids = [oid for oid in map(to_object_id, wanted) if oid is not None]
        if not oids:
            return []
        async with self._op():
            documents = await self._document.objects(pk__in=oids).async_to_list()
        by_id = {str(document.pk): document for document in documents}
        return [self._mapper.to_entity(by_id[i]) for i in wanted if i in by_id]

    async def remove(self, entity_id: str) -> None:
        """Delete the entity with the delete rules of :mod:`domain.relations`, which
        MongoEngine applies (``NotFound`` if absent, ``DeleteDenied`` for DENY)."""
        oid = to_object_id(entity_id)
        async with self._op(writing=True):
            document = None if oid is None else await self._document.objects(pk=oid).async_first()
            if document is None:
                raise NotFound(self._name, entity_id)
            try:
                await document.async_delete()
            except OperationError as exc:
                if not _is_denied(exc):
                    raise
                raise await self._denied(exc, [oid]) from None

    async def _denied(self, exc: OperationError, oids: list[Any]) -> DeleteDenied:
        """The domain error for MongoEngine's DENY refusal of removing ``oids``.

        MongoEngine checks the DENY rules of the removed documents before writing
        anything; a refusal that is not theirs came from a cascade, after writes, so
        the unit of work becomes rollback-only.
        """
        error = DeleteDenied(f"cannot remove {self._name} {[str(o) for o in oids]}: {exc}")
        for relation in relations_to(self.table):
            if relation.rule is Rule.DENY:
                source = DOCUMENTS[relation.source]
                if await source.objects(**{f"{relation.field}__in": oids}).async_exists():
                    return error
        return self._uow.doom(error)

    async def save(self, entity: E) -> E:
        """Write the changed entity if its ``version`` is current; bump the version."""
        oid = to_object_id(entity.id)  # type: ignore[attr-defined]
        if oid is None:
            raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        version = getattr(entity, "version", None)
        stored = attrs.evolve(entity, version=version + 1) if version is not None else entity
        with refusals(self._name, stored):
            document = self._mapper.to_document(stored)
            document.validate()
            son = document.to_mongo().to_dict()
        son.pop("_id", None)
        update: dict[str, Any] = {"$set": son}
        unset = {name: "" for name in self._mapper.fields if name not in son}
        if unset:
            update["$unset"] = unset
        query: dict[str, Any] = {"_id": oid}
        if version is not None:
            query["version"] = version
        async with self._op(entity.id, writing=True):  # type: ignore[attr-defined]
            try:
                with refusals(self._name, stored, doom=self._uow.doom):
                    updated = await self._document.objects(__raw__=query).async_update_one(
                        __raw__=update
                    )
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, document)
                raise self._uow.doom(conflict) from None
            if not updated:
                if await self._document.objects(pk=oid).async_exists():
                    conflict = ConcurrencyConflict(self._name, entity.id)  # type: ignore[attr-defined]
                    raise self._uow.doom(conflict)
                raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        if version is not None:
            entity.version = version + 1  # type: ignore[attr-defined]
        return entity


class MongoQueries(MongoRepository[E], DerivedQueries[E]):
    """The query methods of the port: specs compiled to MongoEngine querysets.

    Every method checks the spec's field paths against the entity first
    (``UnknownField`` before any query), then runs through the engine's ``async_``
    methods inside the unit of work's transaction.
    """

    def _check(self, paths: Iterable[str]) -> None:
        validate_paths(self._mapper.entity_cls, paths)

    def _queryset(self, spec: Predicate, order: Order = NO_ORDER, page: Page = FIRST_PAGE) -> Any:
        self._check([*field_paths(spec), *(k.path for k in order.keys)])
        parts = [compile_filter(spec, ObjectId), keyset_filter(order, page, ObjectId)]
        query = {"$and": [p for p in parts if p]} if any(parts) else {}
        queryset = self._document.objects(__raw__=query)
        keys = order.with_id()
        queryset = queryset.order_by(*(f"{'-' if k.descending else ''}{k.path}" for k in keys))
        if page.skip:
            queryset = queryset.skip(page.skip)
        if page.limit:
            queryset = queryset.limit(page.limit)
        return queryset

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """Entities matching ``spec`` in ``order`` (id last), paged."""
        if page.limit == 0:
            self._queryset(spec, order, page)
            return []
        queryset = self._queryset(spec, order, page).as_pymongo()
        async with self._op():
            rows = await queryset.async_to_list()
        return [self._mapper.from_son(row) for row in rows]

    async def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """Entities matching ``spec``, fetched ``batch_size`` at a time."""
        queryset = self._queryset(spec, order).as_pymongo().batch_size(batch_size)
        async with self._op():
            async for row in queryset:
                yield self._mapper.from_son(row)


    async def count(self, spec: Predicate = ALL) -> int:
        """How many entities match ``spec``."""
        queryset = self._queryset(spec).order_by()
        async with self._op():
            return await queryset.async_count()  # type: ignore[no-any-return]

    async def exists(self, spec: Predicate = ALL) -> bool:
        """True if any entity matches ``spec``."""
        queryset = self._queryset(spec).order_by()
        async with self._op():
            return await queryset.async_exists()  # type: ignore[no-any-return]

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """Distinct values at ``path`` among matching entities (arrays flattened)."""
        self._check([path])
        queryset = self._queryset(spec).order_by()
        async with self._op():
            values = await queryset.as_pymongo().async_distinct(path)
        return [plain(v) for v in values]

    async def project(
        self,
        fields: Iterable[str],
        spec: Predicate = ALL,
        *,
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[dict[str, Any]]:
        """Only ``fields`` (and ``id``) of matching entities, as dicts keyed by path."""
        fields = tuple(fields)
        self._check(fields)
        queryset = self._queryset(spec, order, page)
        if page.limit == 0:
            return []
        queryset = queryset.as_pymongo().only(*(f for f in fields if f != "id"))
        async with self._op():
            rows = await queryset.async_to_list()
        return [plain(project_row(row, fields)) for row in rows]

    async def aggregate(self, group: GroupBy) -> list[dict[str, Any]]:
        """Rows of ``group``: its keys and aggregates."""
        self._check([*group.keys, *(a.path for a in group.aggregates if a.path)])
        self._check(field_paths(group.where))
        pipeline = compile_group(group, ObjectId)
        async with self._op():
            cursor = await self._document.objects.async_aggregate(pipeline)
            rows = await cursor.to_list()
        return group_rows(group, rows)

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """Insert several entities in one round trip; on a conflict, none stay."""
        entities = list(entities)
        with refusals(self._name, *entities):
            documents = [self._mapper.to_document(entity) for entity in entities]
            for document in documents:
                document.validate()
        if not documents:
            return []
        async with self._op(writing=True):
            try:
                with refusals(self._name, *entities, doom=self._uow.doom):
                    await self._document.objects.async_insert(documents, load_bulk=False)
            except (NotUniqueError, BulkWriteError) as exc:
                if not is_duplicate_key(exc):
                    raise
                field = duplicated_field(exc) or "id"
                raise self._uow.doom(Conflict(self._name, field)) from None
        return [self._mapper.to_entity(document) for document in documents]

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """Apply ``changes`` to every matching entity (validated first); return the count."""
        self._check([*field_paths(spec), *(c.path for c in changes.items)])
        changes = validate_changes(self._mapper.entity_cls, changes)
        update = compile_changes(changes, ObjectId)
        if "version" in self._document._fields and not any(
            c.path == "version" for c in changes.items
        ):
            update.setdefault("$inc", {})["version"] = 1
        queryset = self._queryset(spec).order_by()
        async with self._op(writing=True):
            try:
                with refusals(self._name, update, doom=self._uow.doom):
                    return await queryset.async_update(__raw__=update)  # type: ignore[no-any-return]
            except NotUniqueError as exc:
                field = duplicated_field(exc) or "id"
                raise self._uow.doom(Conflict(self._name, field)) from None

    async def remove_where(self, spec: Predicate) -> int:
        """Remove every matching entity, applying delete rules; return the count."""
        queryset = self._queryset(spec).order_by()
        async with self._op(writing=True):
            try:
                return await queryset.async_delete()  # type: ignore[no-any-return]
            except OperationError as exc:
                if not _is_denied(exc):
                    raise
                rows = await queryset.as_pymongo().only("id").async_to_list()
                raise await self._denied(exc, [row["_id"] for row in rows]) from None

