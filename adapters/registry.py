"""The reference application's registry: each entity bound to its Document, once."""

from __future__ import annotations

from adapters.documents.accounts import AccountDocument
from adapters.documents.library import (
    AuthorDocument,
    BookDocument,
    CommentDocument,
    ContractDocument,
    PostDocument,
    ReviewDocument,
    ShelfDocument,
)
from adapters.documents.products import ProductDocument
from adapters.documents.sales import SalesOrderDocument
from adapters.documents.users import UserDocument
from domain.entities import Account, Product, User
from domain.library import Author, Book, Comment, Contract, Post, Review, Shelf
from domain.sales import SalesOrder
from persistence.registry import Registry

__all__ = ["registry"]

registry = Registry()
registry.add(User, UserDocument)
registry.add(Product, ProductDocument)
registry.add(Author, AuthorDocument)
registry.add(Book, BookDocument)
registry.add(Review, ReviewDocument)
registry.add(Shelf, ShelfDocument)
registry.add(Contract, ContractDocument)
registry.add(Post, PostDocument)
registry.add(Comment, CommentDocument)
registry.add(Account, AccountDocument)
registry.add(SalesOrder, SalesOrderDocument)
