"""A generic async repository over a MongoEngine Document class."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mongoengine.errors import NotUniqueError
from pymongo.errors import OperationFailure

from domain.errors import ConcurrencyConflict, NotFound
from persistence.mapping import DocumentMapper, to_object_id

from .errors import conflict_from

if TYPE_CHECKING:
    from .unit_of_work import MongoUnitOfWork

E = TypeVar("E")

_WRITE_CONFLICT = 112

__all__ = ["MongoRepository"]


class MongoRepository(Generic[E]):
    """Repository of one aggregate type; used through a :class:`MongoUnitOfWork`.

    Every operation runs in the unit of work's transaction (the session is bound to the
    task) and operations of one unit of work never overlap on its session.
    """

    def __init__(self, uow: MongoUnitOfWork, mapper: DocumentMapper[E, Any]) -> None:
        self._uow = uow
        self._mapper = mapper
        self._document = mapper.document_cls
        self._name = mapper.entity_cls.__name__

    async def add(self, entity: E) -> E:
        """Insert a new entity (``Conflict`` on a duplicate id or unique field)."""
        document = self._mapper.to_document(entity)
        document.validate()
        async with self._uow.operation():
            try:
                await document.async_save(force_insert=True)
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, document)
                raise self._uow.doom(conflict) from None
        return self._mapper.to_entity(document)

    async def get(self, entity_id: str) -> E:
        """The entity with ``entity_id`` (``NotFound`` if absent)."""
        oid = to_object_id(entity_id)
        if oid is None:
            raise NotFound(self._name, entity_id)
        async with self._uow.operation():
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
        async with self._uow.operation():
            documents = await self._document.objects(pk__in=oids).async_to_list()
        by_id = {str(document.pk): document for document in documents}
        return [self._mapper.to_entity(by_id[i]) for i in wanted if i in by_id]

    async def remove(self, entity_id: str) -> None:
        """Delete the entity, applying the model's delete rules (``NotFound`` if absent)."""
        oid = to_object_id(entity_id)
        async with self._uow.operation():
            document = None if oid is None else await self._document.objects(pk=oid).async_first()
            if document is None:
                raise NotFound(self._name, entity_id)
            await document.async_delete()

    async def save(self, entity: E) -> E:
        """Write the changed entity if its ``version`` is current; bump the version."""
        oid = to_object_id(entity.id)  # type: ignore[attr-defined]
        if oid is None:
            raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        changes = self._mapper.changes(entity)
        version = getattr(entity, "version", None)
        query: dict[str, Any] = {"pk": oid}
        if version is not None:
            query["version"] = version
            changes["set__version"] = version + 1
        self._document(**{k[5:]: v for k, v in changes.items()}).validate()
        async with self._uow.operation():
            try:
                updated = await self._document.objects(**query).async_update_one(**changes)
            except NotUniqueError as exc:
                conflict = await conflict_from(exc, self._name, self._document(pk=oid, **{
                    k[5:]: v for k, v in changes.items()
                }))
                raise self._uow.doom(conflict) from None
            except OperationFailure as exc:
                if exc.code != _WRITE_CONFLICT:
                    raise
                conflict = ConcurrencyConflict(self._name, entity.id)  # type: ignore[attr-defined]
                raise self._uow.doom(conflict) from exc
            if not updated:
                if await self._document.objects(pk=oid).async_exists():
                    conflict = ConcurrencyConflict(self._name, entity.id)  # type: ignore[attr-defined]
                    raise self._uow.doom(conflict)
                raise NotFound(self._name, entity.id)  # type: ignore[attr-defined]
        if version is not None:
            entity.version = version + 1  # type: ignore[attr-defined]
        return entity
