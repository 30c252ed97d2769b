"""Declarative MongoEngine documents backing the domain's aggregates."""

from .users import UserDocument

__all__ = ["UserDocument"]
