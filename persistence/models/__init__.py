"""Declarative MongoEngine documents backing the domain's aggregates."""

from .products import DimensionsDocument, ProductDocument
from .users import UserDocument

__all__ = ["DimensionsDocument", "ProductDocument", "UserDocument"]
