"""In-memory adapters: the same observable behaviour as the mongo adapters, in Python.

Shipped for users' unit tests of their services (hence ``InMemory...``, not ``Fake``).
"""

from persistence.memory.repositories import InMemoryCrudBase, InMemoryRepository
from persistence.memory.store import InMemoryStore
from persistence.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["InMemoryCrudBase", "InMemoryRepository", "InMemoryStore", "InMemoryUnitOfWork"]
