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
from .users import UserDocument

DOCUMENTS = {
    "users": UserDocument,
    "products": ProductDocument,
    "accounts": AccountDocument,
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
    "PostDocument",
    "ProductDocument",
    "ReviewDocument",
    "ShelfDocument",
    "UserDocument",
]
