"""Query methods both adapters derive from their own ``find``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from domain.relations import Loaded, load_related
from domain.specs import ALL, FIRST_PAGE, NO_ORDER, Order, Page, Predicate

__all__ = ["DerivedQueries"]

E = TypeVar("E")


class DerivedQueries(Generic[E]):
    """``first`` and ``find_related`` on top of a repository's ``find``."""

    table: str
    _uow: Any

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
        return await load_related(self._uow, self.table, found, with_related)
