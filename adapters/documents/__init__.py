"""The reference service's Documents (its registry is :mod:`adapters.registry`).

The layer itself never imports this package: it is an application built on the layer,
used by the demo, the FastAPI example and the contract suite.
"""

from adapters.documents.accounts import AccountDocument
from adapters.documents.library import (
    AttachmentDocument,
    AuthorDocument,
    BookDocument,
    CommentDocument,
    ContractDocument,
    PostDocument,
    ReviewDocument,
    ShelfDocument,
)
from adapters.documents.products import DimensionsDocument, ProductDocument
from adapters.documents.sales import LineItemDocument, SalesOrderDocument
from adapters.documents.users import UserDocument

__all__ = [
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
