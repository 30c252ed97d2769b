"""Declarative MongoEngine documents backing the domain's aggregates."""

from .library import (
    LIBRARY_DOCUMENTS,
    AttachmentDocument,
    AuthorDocument,
    BookDocument,
    ContractDocument,
    ReviewDocument,
    ShelfDocument,
)
from .products import DimensionsDocument, ProductDocument
from .users import UserDocument

DOCUMENTS = {"users": UserDocument, "products": ProductDocument, **LIBRARY_DOCUMENTS}
"""The document class of every repository, by repository name."""

__all__ = [
    "DOCUMENTS",
    "AttachmentDocument",
    "AuthorDocument",
    "BookDocument",
    "ContractDocument",
    "DimensionsDocument",
    "ProductDocument",
    "ReviewDocument",
    "ShelfDocument",
    "UserDocument",
]
