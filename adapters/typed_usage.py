"""A typed module: ``mypy --strict`` checks it in CI (see ``.ci/run``).

Repositories are generic in their entity type, so what comes out of a unit of work is
typed without casts, on both adapters: ``uow.repo(Book)`` through the port,
``uow.books`` through an application's own protocol, ``uow.repo(BookRepository)`` for
an aggregate's own repository class.  Document querysets are typed by the partial
MongoEngine stubs in ``typings/`` (MongoEngine ships none).
"""

from __future__ import annotations

from typing import assert_type

from mongoengine import Document, StringField

from domain.app_ports import AppUnitOfWork
from domain.entities import User
from domain.library import Author, Book
from persistence.memory import InMemoryUnitOfWork
from persistence.mongo import MongoUnitOfWork
from persistence.ports import AggregateRepository, QueryRepository, UnitOfWork
from persistence.registry import Registry
from persistence.relations import Loaded
from persistence.specs import F


async def newest_active(uow: UnitOfWork) -> list[User]:
    """Typed through the port: ``uow.repo(User)`` is a ``QueryRepository[User]``."""
    async with uow:
        users = uow.repo(User)
        assert_type(users, QueryRepository[User])
        found = await users.find(F("active") == True)  # noqa: E712
        assert_type(found, list[User])
        first = await users.first()
        assert_type(first, User | None)
        async for user in users.iterate():
            assert_type(user, User)
        return found


async def books_with_authors(uow: MongoUnitOfWork | InMemoryUnitOfWork) -> list[Loaded[Book]]:
    """Typed through either adapter."""
    async with uow:
        book = await uow.repo(Book).get("0" * 24)
        assert_type(book, Book)
        loaded = await uow.repo(Book).find_related(with_related=("author",))
        assert_type(loaded, list[Loaded[Book]])
        return loaded


async def through_the_app_protocol(uow: AppUnitOfWork) -> Author:
    """The application's own protocol gives attribute names (``uow.authors``)."""
    async with uow:
        assert_type(uow.authors, QueryRepository[Author])
        author = await uow.authors.get("0" * 24)
        assert_type(author, Author)
        return author


class BookRepository(AggregateRepository[Book]):
    """An aggregate's own repository: extra queries built on the port's methods."""

    async def by_author(self, author_id: str) -> list[Book]:
        return await self.find(F("author_id") == author_id)


async def own_repository(uow: UnitOfWork) -> list[Book]:
    """``uow.repo(BookRepository)`` is typed as that class."""
    async with uow:
        books = uow.repo(BookRepository)
        assert_type(books, BookRepository)
        found = await books.by_author("0" * 24)
        assert_type(found, list[Book])
        return found


def adapters_satisfy_the_protocols(registry: Registry) -> list[AppUnitOfWork]:
    """Both adapters are an ``AppUnitOfWork`` for mypy (attributes resolve by name)."""
    mongo: AppUnitOfWork = MongoUnitOfWork(registry)
    memory: AppUnitOfWork = InMemoryUnitOfWork(registry)
    port: UnitOfWork = memory
    assert_type(port.repo(Author), QueryRepository[Author])
    return [mongo, memory]


class Person(Document):
    name = StringField()


async def typed_documents() -> list[Person]:
    """``Document.objects`` results carry the document class."""
    person = await Person.objects.async_get(name="Ann")
    assert_type(person, Person)
    first = await Person.objects.order_by("name").async_first()
    assert_type(first, Person | None)
    async for each in Person.objects(name="Ann"):
        assert_type(each, Person)
    saved = await Person(name="Bob").async_save()
    assert_type(saved, Person)
    people = await Person.objects.filter(name="Bob").async_to_list()
    assert_type(people, list[Person])
    return people
