"""The reference application's Documents and its registry.

The layer itself never imports this package: it is an application built on the layer,
used by the demo, the FastAPI example and the contract suite.
"""

from .accounts import AccountDocument
from .library import (
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
from .reference_app import registry
from .sales import LineItemDocument, SalesOrderDocument
from .users import UserDocument

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
    "registry",
]
