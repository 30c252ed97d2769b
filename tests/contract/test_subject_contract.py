"""The generic repository and unit-of-work contract (``subject_suite``) run for
aggregates of the reference application: users (a unique field, a version), authors
(CASCADE and DENY rules point at them) and books (references, a CASCADE and a PULL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from subject_suite import *  # noqa: F403  (the contract's tests)
from subject_suite import Subject

from adapters.registry import registry
from domain.entities import User
from domain.library import Author, Book, Contract, Post, Review, Shelf


async def _an_author(uow: Any) -> dict[str, str]:
    author = await uow.authors.add(Author(name="Ann"))
    return {"author_id": author.id}


def _book(i: int, refs: Mapping[str, Any]) -> Book:
    return Book(title=f"Book {i:03d}", **refs)


SUBJECTS = {
    "users": Subject(
        registry=registry,
        entity_cls=User,
        factories={User: lambda i, _: User(name=f"User {i:03d}", email=f"u{i}@example.com")},
        sortable="name",
        change=lambda u: attrs.evolve(u, active=not u.active),
    ),
    "authors": Subject(
        registry=registry,
        entity_cls=Author,
        factories={
            Author: lambda i, _: Author(name=f"Author {i:03d}"),
            Book: _book,
            Post: lambda i, refs: Post(title=f"Post {i}", **refs),
            Contract: lambda i, refs: Contract(title=f"Contract {i}", **refs),
        },
        sortable="name",
        change=lambda a: attrs.evolve(a, name=a.name + " Jr"),
    ),
    "books": Subject(
        registry=registry,
        entity_cls=Book,
        factories={
            Book: _book,
            Review: lambda i, refs: Review(text=f"Review {i}", **refs),
            Shelf: lambda i, refs: Shelf(name=f"Shelf {i}", **refs),
        },
        sortable="title",
        change=lambda b: attrs.evolve(b, title=b.title + " (2nd ed.)"),
        prepare=_an_author,
    ),
}


@pytest.fixture(params=sorted(SUBJECTS))
def subject(request: pytest.FixtureRequest) -> Subject:
    """The aggregate under test."""
    return SUBJECTS[request.param]
