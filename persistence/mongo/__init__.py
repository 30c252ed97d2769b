"""Repositories and unit of work over the async MongoEngine engine."""

from persistence.mongo.repositories import MongoCrudBase, MongoRepository
from persistence.mongo.unit_of_work import MongoUnitOfWork

__all__ = ["MongoCrudBase", "MongoRepository", "MongoUnitOfWork"]
