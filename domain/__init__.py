"""The domain: entities, ports, errors and services; pure Python (attrs only)."""

from .entities import User
from .errors import (
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
from .ids import is_valid_id, new_id
from .ports import FileInfo, FileStore, Repository, UnitOfWork

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
