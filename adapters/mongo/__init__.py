"""Repositories and unit of work over the async MongoEngine engine."""

from .repositories import MongoRepository
from .unit_of_work import MongoUnitOfWork

__all__ = ["MongoRepository", "MongoUnitOfWork"]
