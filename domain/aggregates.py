"""The aggregates a unit of work offers, by repository name."""

from __future__ import annotations

from typing import Any

import attrs

from .entities import Account, Product, User
from .library import Author, Book, Comment, Contract, Post, Review, Shelf
from .sales import SalesOrder

__all__ = ["AGGREGATES", "Aggregate"]


@attrs.frozen
class Aggregate:
    """A repository's name, its entity class and the fields unique across entities."""

    name: str
    entity_cls: type[Any]
    unique: tuple[str, ...] = ()


AGGREGATES: dict[str, Aggregate] = {
    a.name: a
    for a in (
        Aggregate("users", User, ("email",)),
        Aggregate("products", Product),
        Aggregate("authors", Author),
        Aggregate("books", Book),
        Aggregate("reviews", Review),
        Aggregate("shelves", Shelf),
        Aggregate("contracts", Contract),
        Aggregate("posts", Post),
        Aggregate("comments", Comment),
        Aggregate("accounts", Account),
        Aggregate("orders", SalesOrder),
    )
}
