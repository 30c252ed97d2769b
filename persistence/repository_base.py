"""What both adapters' query repositories share: their aggregate, its spec pipeline, and
the query methods derived from ``find``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from persistence.files.owned import owned_files, owns_files
from persistence.pending_operations import track_operations
from persistence.query.plan import planner_for
from persistence.registry import Registration
from persistence.relations import Loaded, load_related
from persistence.specs import ALL, FIRST_PAGE, NO_ORDER, Order, Page, Predicate
from persistence.unit_of_work import BaseUnitOfWork

__all__ = ["RepositoryBase", "files_removed_with"]

E = TypeVar("E")


class RepositoryBase(Generic[E]):
    """One registered aggregate, seen through a unit of work.

    Its public coroutine methods, and those of every subclass, are recorded with the
    unit of work when called (see :mod:`persistence.pending_operations`).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        track_operations(cls)

    def __init__(self, uow: BaseUnitOfWork, aggregate: Registration[E]) -> None:
        self._uow = uow
        self.registration = aggregate
        self.name = aggregate.name
        self.entity_cls = aggregate.entity_cls
        self._mapper = aggregate.mapper
        self._plan = planner_for(aggregate)
        self._entity_name = aggregate.entity_cls.__name__

    async def find(
        self, spec: Predicate = ALL, *, order: Order = NO_ORDER, page: Page = FIRST_PAGE
    ) -> list[E]:
        raise NotImplementedError  # pragma: no cover - each adapter has its own

    async def first(self, spec: Predicate = ALL, *, order: Order = NO_ORDER) -> E | None:
        """The first entity matching ``spec`` in ``order``, or None."""
        found = await self.find(spec, order=order, page=Page(limit=1))
        return found[0] if found else None

    async def find_related(
        self,
        spec: Predicate = ALL,
        *,
        with_related: Iterable[str],
        order: Order = NO_ORDER,
        page: Page = FIRST_PAGE,
    ) -> list[Loaded[E]]:
        """``find`` with the named relations loaded: one ``get_many`` per related
        repository (one query per related collection on MongoDB)."""
        found = await self.find(spec, order=order, page=page)
        relations = self._uow.registry.relations_from(self.name)
        return await load_related(self._uow, relations, found, with_related)


track_operations(RepositoryBase)


async def files_removed_with(
    repository: RepositoryBase[Any], ids: Iterable[str] | None = None, spec: Predicate = ALL
) -> list[str]:
    """The files owned by entities ``ids`` (or those matching ``spec``) of
    ``repository`` and by what their removal cascades to; nothing is looked up when no
    aggregate involved declares a file field."""
    uow = repository._uow
    if not owns_files(uow.registry, repository.name):
        return []
    if ids is None:
        ids = [row["id"] for row in await repository.project(["id"], spec)]  # type: ignore[attr-defined]
    return await owned_files(uow, repository.name, ids)
