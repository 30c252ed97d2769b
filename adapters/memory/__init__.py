"""In-memory adapters: the same observable behaviour as the mongo adapters, in Python.

Shipped for users' unit tests of their services (hence ``InMemory...``, not ``Fake``).
"""

from .repositories import InMemoryQueries, InMemoryRepository
from .store import InMemoryStore
from .unit_of_work import InMemoryUnitOfWork

__all__ = ["InMemoryQueries", "InMemoryRepository", "InMemoryStore", "InMemoryUnitOfWork"]
