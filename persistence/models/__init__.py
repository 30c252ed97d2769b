"""Declarative MongoEngine documents backing the domain's aggregates."""

from .accounts import AccountDocument
from .library import (
    LIBRARY_DOCUMENTS,
    AttachmentDocument,
    AuthorDocument,
    BookDocument,
    CommentDocument,
    ContractDocument,
    PostDocument,
    ReviewDocument,
    ShelfDocument,
)
from .products import DimensionsDocument, ProductDocument
from .sales import LineItemDocument, SalesOrderDocument
from .users import UserDocument

DOCUMENTS = {
    "users": UserDocument,
    "products": ProductDocument,
    "accounts": AccountDocument,
    "orders": SalesOrderDocument,
    **LIBRARY_DOCUMENTS,
}
"""The document class of every repository, by repository name."""

__all__ = [
    "DOCUMENTS",
    "AccountDocument",
    "AttachmentDocument",
    "AuthorDocument",
    "BookDocument",
    "CommentDocument",
    "ContractDocument",
    "DimensionsDocument",
    "LineItemDocument",
    "PostDocument",
    "ProductDocument",
    "ReviewDocument",
    "SalesOrderDocument",
    "ShelfDocument",
    "UserDocument",
]
