"""The domain: entities, ports, errors and services; pure Python (attrs only)."""

from domain.entities import User
from persistence.errors import (
    ConcurrencyConflict,
    Conflict,
    DeleteDenied,
    DomainError,
    NotFound,
    TransactionsUnsupported,
    UnitOfWorkError,
    UnknownField,
    UnsupportedSpec,
)
from persistence.ids import is_valid_id, new_id
from persistence.ports import FileInfo, FileStore, Repository, UnitOfWork

__all__ = [
    "ConcurrencyConflict",
    "Conflict",
    "DeleteDenied",
    "DomainError",
    "FileInfo",
    "FileStore",
    "NotFound",
    "Repository",
    "TransactionsUnsupported",
    "UnitOfWork",
    "UnitOfWorkError",
    "UnknownField",
    "UnsupportedSpec",
    "User",
    "is_valid_id",
    "new_id",
]
