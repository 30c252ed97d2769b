"""Repositories and unit of work over the async MongoEngine engine."""

from .repositories import MongoQueries, MongoRepository
from .unit_of_work import MongoUnitOfWork

__all__ = ["MongoQueries", "MongoRepository", "MongoUnitOfWork"]
