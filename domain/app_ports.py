"""The reference application's unit of work, typed with attribute names.

The layer's :class:`~persistence.ports.UnitOfWork` offers ``uow.repo(Book)``; an application
that prefers ``uow.books`` declares a protocol like this one (read-only properties named
as its registered repositories).  Both adapters resolve such an attribute to the
repository of that name, so ``MongoUnitOfWork(registry)`` and
``InMemoryUnitOfWork(registry)`` satisfy it for mypy and at run time.
"""

from __future__ import annotations

from typing import Protocol

from domain.entities import Account, Product, User
from domain.library import Author, Book, Comment, Contract, Post, Review, Shelf
from domain.sales import SalesOrder
from persistence.ports import QueryRepository, UnitOfWork

__all__ = ["AppUnitOfWork"]


class AppUnitOfWork(UnitOfWork, Protocol):
    """``uow.users``, ``uow.books``, ... of the reference application."""

    @property
    def users(self) -> QueryRepository[User]: ...
    @property
    def products(self) -> QueryRepository[Product]: ...
    @property
    def authors(self) -> QueryRepository[Author]: ...
    @property
    def books(self) -> QueryRepository[Book]: ...
    @property
    def reviews(self) -> QueryRepository[Review]: ...
    @property
    def shelves(self) -> QueryRepository[Shelf]: ...
    @property
    def contracts(self) -> QueryRepository[Contract]: ...
    @property
    def posts(self) -> QueryRepository[Post]: ...
    @property
    def comments(self) -> QueryRepository[Comment]: ...
    @property
    def accounts(self) -> QueryRepository[Account]: ...
    @property
    def orders(self) -> QueryRepository[SalesOrder]: ...
