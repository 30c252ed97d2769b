"""A generic async repository over a MongoEngine Document class."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs
from mongoengine.errors import BulkWriteError, FieldDoesNotExist, NotUniqueError, OperationError
from pymongo.errors import NetworkTimeout, OperationFailure

from persistence.aggregation import Aggregation
from persistence.change_checks import updated_documents
from persistence.document_errors import refusals, stored_data_error
from persistence.engine import checked, compat
from persistence.engine.raw_finds import async_raw_rows, raw_queryset
from persistence.engine.sessions import layer_reads
from persistence.error_chain import error_chain
from persistence.errors import ConcurrencyConflict, Conflict, DeleteDenied, DomainError, NotFound
from persistence.mapping import kept_as_is, plain, stored_form, to_object_id
from persistence.mongo.deadlines import outage_watch
from persistence.mongo.errors import (
    conflict_from,
    duplicated_field,
    is_duplicate_key,
    unavailable_from,
)
from persistence.query.aggregation_pipeline import aggregation_rows
from persistence.query.bson_order import bson_sorted
from persistence.query.plan import FindPlan
from persistence.registry import Registration
from persistence.relations import Rule
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
    from persistence.mongo.unit_of_work import MongoUnitOfWork

E = TypeVar("E")

_WRITE_CONFLICT = 112

__all__ = ["MongoCrudBase", "MongoRepository"]


def _is_write_conflict(exc: BaseException | None) -> bool:
    return any(
        isinstance(link, OperationFailure) and link.code == _WRITE_CONFLICT
        for link in error_chain(exc)
    )


def _unchanged(row: dict[str, Any], touched: tuple[str, ...]) -> dict[str, Any]:
    """The condition that ``row`` (a stored document) still holds, at the ``touched``
    fields, the values it was checked with (a write outside a transaction skips a
    document another writer changed since)."""
    condition: dict[str, Any] = {"_id": row["_id"]}
    for name in touched:
        condition[name] = {"$eq": row[name]} if name in row else {"$exists": False}
    return condition


def _changed_unique(registration: Registration[Any], changes: Changes) -> str:
    """The unique field a change set can have made clash (the store did not say which;
    the id cannot be changed): the first unique group holding a changed field."""
    changed = {c.path.split(".")[0] for c in changes.items}
    for group in registration.unique:
        if group != ("id",) and any(p.split(".")[0] in changed for p in group):
            return group[0]
    return "id"


def _is_denied(exc: OperationError) -> bool:
    """MongoEngine's refusal by a DENY delete rule."""
    return str(exc).startswith("Could not delete document (")


class _GuardedOperation:
    """``async with repository._op(...)``: see :meth:`MongoCrudBase._op`."""

    __slots__ = ("_deadline", "_entity_id", "_operation", "_reads", "_repository", "_writing")

    def __init__(
        self, repository: MongoCrudBase[Any], entity_id: Any, writing: bool, deadline: bool
    ) -> None:
        self._repository = repository
        self._entity_id = entity_id
        self._writing = writing
        self._operation = repository._uow.operation()
        # a server lost while the operation runs makes the driver wait for one as long as
        # its own selection timeout (30 s by default), in the operation or in its retry:
        # the operation is bounded by the unit's outage budget instead
        uow = repository._uow
        self._deadline: AbstractContextManager[Any] | None = (
            outage_watch(uow._bound(), uow._reachable_now) if deadline else None
        )
        # a read the repository runs to its end (a streaming one yields to its caller,
        # whose own operations must not pass for the layer's reads)
        self._reads: AbstractContextManager[Any] | None = (
            layer_reads() if deadline and not writing else None
        )

    async def __aenter__(self) -> None:
        await self._operation.__aenter__()  # (may begin the unit's transaction)
        if self._writing:
            self._repository._uow.wrote()
        if self._deadline is not None:
            self._deadline.__enter__()
        if self._reads is not None:
            self._reads.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        try:
            if self._reads is not None:
                self._reads.__exit__(exc_type, exc, tb)
            if self._deadline is not None:
                try:
                    self._deadline.__exit__(exc_type, exc, tb)
                except NetworkTimeout as timeout:  # the server stayed away: the op was ended
                    exc = timeout
            if isinstance(exc, Exception) and not isinstance(exc, DomainError):
                error = self._repository._translated(exc, self._entity_id, self._writing)
                if error is not None:
                    raise error from exc
                if isinstance(exc, NetworkTimeout):
                    raise exc
        finally:
            await self._operation.__aexit__(exc_type, exc, tb)


class MongoCrudBase(RepositoryBase[E]):
    """Repository of one registered aggregate; used through a :class:`MongoUnitOfWork`.

    Every operation runs in the unit of work's transaction (the session is bound to the
    task) and operations of one unit of work never overlap on its session.
    """

    def __init__(self, uow: MongoUnitOfWork, aggregate: Registration[E]) -> None:
        super().__init__(uow, aggregate)
        self._document_cls = aggregate.document_cls
        self._name = self._entity_name

    def _returned(self, document: Any) -> E:
        """The entity as the server now holds it (what a read would return)."""
        son = document.to_mongo()
        if kept_as_is(son):  # what the server holds is ``son`` itself
            return self._mapper.from_son(son)
        codec_options = compat.document_db(cast(Any, self._document_cls)).codec_options
        return self._mapper.from_son(stored_form(son, codec_options))

    def _op(
        self, entity_id: Any = None, *, writing: bool = False, streaming: bool = False
    ) -> _GuardedOperation:
        """One operation on the unit's session; a write conflict with a concurrent
        transaction becomes ``ConcurrencyConflict`` (and the unit rollback-only), an
        outage ``StoreUnavailable`` (retry-safe in a transaction or for a read).  An
        operation (but a ``streaming`` one, which yields to its caller) takes at most
        what is left of the unit's outage budget."""
        return _GuardedOperation(self, entity_id, writing, not streaming)

    def _translated(self, exc: Exception, entity_id: Any, writing: bool) -> DomainError | None:
        """The domain error an operation's failure ``exc`` stands for, if any."""
        if isinstance(exc, FieldDoesNotExist):  # a stored document with undeclared fields
            return stored_data_error(self._document_cls, self._name, None, exc, entity_id)
        if _is_write_conflict(exc):
            conflict = ConcurrencyConflict(
                self._name,
                entity_id,
                write_conflict=True,
                version_field=self.registration.version_field,
            )
            return self._uow.mark_rollback_only(conflict)
        in_transaction = self._uow.transactions
        unavailable = unavailable_from(exc, retry_safe=in_transaction or not writing)
        if unavailable is not None and in_transaction:
            self._uow.mark_rollback_only(unavailable)
        return unavailable

    async def add(self, entity: E) -> E:
        """Insert a new entity (``Conflict`` on a duplicate id or unique field)."""
        with refusals(self._name, entity):
            document, stored = self._mapper.to_document_and_stored(entity)
            document.validate()
        async with self._op(getattr(entity, "id", None), writing=True):
            try:
                with refusals(self._name, entity, mark_rollback_only=self._uow.mark_rollback_only):
                    await document.async_save(force_insert=True, validate=False)
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, document, self.registration.unique)
                raise self._uow.mark_rollback_only(conflict) from None
        return stored if stored is not None else self._returned(document)

    async def get(self, entity_id: str) -> E:
        """The entity with ``entity_id`` (``NotFound`` if absent)."""
        oid = to_object_id(entity_id)
        if oid is None:
            raise NotFound(self._name, entity_id)
        async with self._op():
            rows = await async_raw_rows(self._document_cls, {"_id": oid}, limit=1)
        if not rows:
            raise NotFound(self._name, entity_id)
        return self._mapper.from_son(rows[0])

    async def get_many(self, ids: Iterable[str]) -> list[E]:
        """Entities for ``ids`` in that order; missing ids skipped, duplicates collapsed."""
        wanted = list(dict.fromkeys(ids))
        oids = [oid for oid in map(to_object_id, wanted) if oid is not None]
        if not oids:
            return []
        async with self._op():
            rows = await async_raw_rows(self._document_cls, {"_id": {"$in": oids}})
        by_id = {str(row["_id"]): row for row in rows}
        return [self._mapper.from_son(by_id[i]) for i in wanted if i in by_id]

    async def remove(self, entity_id: str) -> None:
        """Delete the entity with the delete rules its Document declares, which
        MongoEngine applies (``NotFound`` if absent, ``DeleteDenied`` for DENY)."""
        oid = to_object_id(entity_id)
        files = [] if oid is None else await files_removed_with(self, [entity_id])
        async with self._op(entity_id, writing=True):
            document = (
                None if oid is None else await self._document_cls.objects(pk=oid).async_first()
            )
            if document is None:
                raise NotFound(self._name, entity_id)
            try:
                await document.async_delete()
            except OperationError as exc:
                if not _is_denied(exc):
                    raise
                raise await self._denied(exc, [oid]) from None
        self._uow.files_of_removed(files)

    async def _denied(self, exc: OperationError, oids: list[Any]) -> DeleteDenied:
        """The domain error for MongoEngine's DENY refusal of removing ``oids``.

        MongoEngine checks the DENY rules of the removed documents before writing
        anything; a refusal that is not theirs came from a cascade, after writes, so
        the unit of work becomes rollback-only.
        """
        error = DeleteDenied(f"cannot remove {self._name} {[str(o) for o in oids]}: {exc}")
        registry = self._uow.registry
        for relation in registry.relations_to(self.name):
            if relation.rule is Rule.DENY:
                source = registry.registration(relation.source).document_cls
                if await source.objects(**{f"{relation.field}__in": oids}).async_exists():
                    return error
        return self._uow.mark_rollback_only(error)

    async def save(self, entity: E) -> E:
        """Write the changed entity if its ``version`` is current; bump the version."""
        oid = to_object_id(entity.id)  # type: ignore[attr-defined]
        if oid is None:
            raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        version_field = self.registration.version_field
        version = getattr(entity, version_field) if version_field is not None else None
        bumped = {version_field: version + 1} if version_field and version is not None else {}
        with refusals(self._name, entity):
            document = self._mapper.to_document(entity, **bumped)
            document.validate()
            son = document.to_mongo().to_dict()
        son.pop("_id", None)
        update: dict[str, Any] = {"$set": son}
        unset = {name: "" for name in self._mapper.fields if name not in son}
        if unset:
            update["$unset"] = unset
        query: dict[str, Any] = {"_id": oid}
        if version_field is not None:
            query[version_field] = version
        async with self._op(entity.id, writing=True):  # type: ignore[attr-defined]
            try:
                with refusals(self._name, entity, mark_rollback_only=self._uow.mark_rollback_only):
                    updated = await self._document_cls.objects(__raw__=query).async_update_one(
                        __raw__=update
                    )
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, document, self.registration.unique)
                raise self._uow.mark_rollback_only(conflict) from None
            if not updated:
                if await self._document_cls.objects(pk=oid).async_exists():
                    conflict = ConcurrencyConflict(
                        self._name,
                        entity.id,  # type: ignore[attr-defined]
                        version_field=version_field,
                    )
                    raise self._uow.mark_rollback_only(conflict)
                raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        if version_field is not None and version is not None:
            setattr(entity, version_field, version + 1)
        return entity


class MongoRepository(MongoCrudBase[E]):
    """The query methods of the port: plans of the shared spec pipeline
    (:mod:`persistence.query.plan`) run as MongoEngine querysets through the engine's
    ``async_`` methods, inside the unit of work's transaction."""

    def _queryset(self, plan: FindPlan) -> Any:
        """The plan's queryset of raw rows."""
        return raw_queryset(
            self._document_cls,
            plan.filter,
            order_by=plan.order_by,
            skip=plan.skip,
            limit=plan.limit,
        )

    def _matches(self, spec: Predicate) -> Any:
        return self._document_cls.objects(__raw__=self._plan.where(spec))

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        """Entities matching ``spec`` in ``order`` (id last), paged."""
        plan = self._plan.find(spec, order, page)
        if plan.empty:
            return []
        async with self._op():
            rows = await async_raw_rows(
                self._document_cls,
                plan.filter,
                order_by=plan.order_by,
                skip=plan.skip,
                limit=plan.limit,
            )
        return [self._mapper.from_son(row) for row in rows]

    async def iterate(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, batch_size: int = 100
    ) -> AsyncIterator[E]:
        """Entities matching ``spec``, fetched ``batch_size`` at a time."""
        plan = self._plan.find(spec, order, FIRST_PAGE)
        queryset = self._queryset(plan).batch_size(batch_size)
        async with self._op(streaming=True):
            async for row in queryset:
                yield self._mapper.from_son(row)

    async def count(self, spec: Predicate = ALL) -> int:
        """How many entities match ``spec``."""
        queryset = self._matches(spec)
        async with self._op():
            return await queryset.async_count()  # type: ignore[no-any-return]

    async def exists(self, spec: Predicate = ALL) -> bool:
        """True if any entity matches ``spec``."""
        queryset = self._matches(spec)
        async with self._op():
            return await queryset.async_exists()  # type: ignore[no-any-return]

    async def distinct(self, path: str, spec: Predicate = ALL) -> list[Any]:
        """Distinct values at ``path`` among matching entities (arrays flattened), in
        MongoDB's order of values (a server answers in no defined order)."""
        query = self._plan.distinct(path, spec)
        queryset = self._document_cls.objects(__raw__=query).as_pymongo()
        async with self._op():
            values = await queryset.async_distinct(path)
        return [plain(v) for v in bson_sorted(values)]

    async def project(
        self,
        fields: Iterable[str],
        spec: Predicate = ALL,
        *,
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[dict[str, Any]]:
        """Only ``fields`` (and ``id``) of matching entities, as dicts keyed by path."""
        plan, fields = self._plan.project(fields, spec, order, page)
        if plan.empty:
            return []
        queryset = self._queryset(plan).only(*(f for f in fields if f != "id"))
        async with self._op():
            rows = await queryset.async_to_list()
        return [plain(project_row(row, fields)) for row in rows]

    async def aggregate(self, spec: Aggregation) -> list[dict[str, Any]]:
        """Rows of ``spec``: its keys and values, from one pipeline."""
        pipeline = self._plan.aggregation(spec)
        if not pipeline:
            return []
        async with self._op():
            cursor = await self._document_cls.objects.async_aggregate(pipeline)
            rows = await cursor.to_list()
        return aggregation_rows(spec, rows, plain)

    async def add_many(self, entities: Iterable[E]) -> list[E]:
        """Insert several entities in one round trip; on a conflict, none stay."""
        entities = list(entities)
        with refusals(self._name, *entities):
            mapped = [self._mapper.to_document_and_stored(entity) for entity in entities]
            documents = [document for document, _ in mapped]
            for document in documents:
                document.validate()
        if not documents:
            return []
        async with self._op(writing=True):
            try:
                with refusals(
                    self._name, *entities, mark_rollback_only=self._uow.mark_rollback_only
                ):
                    await self._document_cls.objects.async_insert(documents, load_bulk=False)
            except (NotUniqueError, BulkWriteError) as exc:
                if not is_duplicate_key(exc):
                    raise
                field = duplicated_field(exc) or "id"
                raise self._uow.mark_rollback_only(Conflict(self._name, field)) from None
        return [
            stored if stored is not None else self._returned(document)
            for document, stored in mapped
        ]

    async def update_where(self, spec: Predicate, changes: Changes) -> int:
        """Apply ``changes`` to every matching entity (validated first); return the count."""
        plan = self._plan.update(spec, changes)
        query = plan.filter
        async with self._op(writing=True):
            if plan.per_document:  # validate each result before the write
                rows = await async_raw_rows(self._document_cls, plan.filter)
                if not rows:
                    return 0
                updated_documents(self._document_cls, self._name, rows, plan.update)
                if not self._uow.transactions:  # (in one, the write sees the same snapshot)
                    unchanged = [_unchanged(row, plan.touched) for row in rows]
                    query = {"$and": [plan.filter, {"$or": unchanged}]}
            try:
                with refusals(
                    self._name, plan.update, mark_rollback_only=self._uow.mark_rollback_only
                ):
                    queryset = self._document_cls.objects(__raw__=query)
                    return await queryset.async_update(__raw__=plan.update)  # type: ignore[no-any-return]
            except NotUniqueError as exc:
                field = duplicated_field(exc) or _changed_unique(self.registration, changes)
                raise self._uow.mark_rollback_only(Conflict(self._name, field)) from None

    async def remove_where(self, spec: Predicate) -> int:
        """Remove every matching entity, applying delete rules; return the count."""
        queryset = self._matches(spec)
        files = await files_removed_with(self, spec=spec)
        async with self._op(writing=True):
            try:
                removed: int = await queryset.async_delete()
            except OperationError as exc:
                if not _is_denied(exc):
                    raise
                rows = await queryset.as_pymongo().only("id").async_to_list()
                raise await self._denied(exc, [row["_id"] for row in rows]) from None
        self._uow.files_of_removed(files)
        return removed


def _checked_returned(self: MongoCrudBase[Any], document: Any) -> Any:
    """``_returned`` in checked mode: a document whose serialised form BSON keeps as is
    must read back as its stored form does."""
    entity = _plain_returned(self, document)
    son = document.to_mongo()
    if kept_as_is(son):
        codec_options = compat.document_db(cast(Any, self._document_cls)).codec_options
        expected = self._mapper.from_son(stored_form(son, codec_options))
        checked.note("repositories._returned (kept as is)")
        found = checked.first_difference(
            checked.snapshot(attrs.asdict(entity)), checked.snapshot(attrs.asdict(expected))
        )
        if found is not None:
            raise checked.report("repositories._returned (kept as is)", self._document_cls, found)
    return entity


_plain_returned = MongoCrudBase._returned
if checked.ENABLED:
    MongoCrudBase._returned = _checked_returned  # type: ignore[method-assign]
