"""A typed attribute giving a unit of work's repository (``uow.books``) by its name."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

__all__ = ["RepositorySlot"]

R = TypeVar("R")


class RepositorySlot(Generic[R]):
    """``books: RepositorySlot[MongoQueries[Book]] = RepositorySlot()`` reads
    ``uow.repository("books")`` (which refuses use outside a block)."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, uow: None, owner: type) -> RepositorySlot[R]: ...

    @overload
    def __get__(self, uow: object, owner: type) -> R: ...

    def __get__(self, uow: Any, owner: type) -> Any:
        if uow is None:
            return self
        return uow.repository(self.name)
