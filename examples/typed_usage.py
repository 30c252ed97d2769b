"""A typed module: ``mypy --strict`` checks it in CI (see ``.ci/run``).

Repositories are generic in their entity type, so what comes out of a unit of work is
typed without casts, on both adapters.  Document querysets are typed by the partial
MongoEngine stubs in ``typings/`` (MongoEngine ships none).
"""

from __future__ import annotations

from typing import assert_type

from mongoengine import Document, StringField

from adapters.memory import InMemoryUnitOfWork
from adapters.mongo import MongoUnitOfWork
from domain.entities import User
from domain.library import Book
from domain.ports import UnitOfWork
from domain.relations import Loaded
from domain.specs import F


async def newest_active(uow: UnitOfWork) -> list[User]:
    """Typed through the port."""
    async with uow:
        users = await uow.users.find(F("active") == True)  # noqa: E712
        assert_type(users, list[User])
        first = await uow.users.first()
        assert_type(first, User | None)
        async for user in uow.users.iterate():
            assert_type(user, User)
        return users


async def books_with_authors(uow: MongoUnitOfWork | InMemoryUnitOfWork) -> list[Loaded[Book]]:
    """Typed through either adapter."""
    async with uow:
        book = await uow.books.get("0" * 24)
        assert_type(book, Book)
        loaded = await uow.books.find_related(with_related=("author",))
        assert_type(loaded, list[Loaded[Book]])
        return loaded


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
