"""Domain errors: what adapters raise, whatever the backend."""

from __future__ import annotations

__all__ = [
    "ConcurrencyConflict",
    "Conflict",
    "DeleteDenied",
    "DomainError",
    "InsufficientFunds",
    "InvalidSpec",
    "NotFound",
    "TransactionsUnsupported",
    "UnitOfWorkError",
    "UnknownField",
    "UnsupportedSpec",
]


class DomainError(Exception):
    """Base of every domain error."""


class NotFound(DomainError):
    """No entity with that id."""

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id!r} not found")
        self.entity = entity
        self.entity_id = entity_id


class Conflict(DomainError):
    """A write clashes with existing data (a duplicate unique field or id)."""

    def __init__(self, entity: str, field: str, message: str | None = None) -> None:
        super().__init__(message or f"{entity} with this {field} already exists")
        self.entity = entity
        self.field = field


class ConcurrencyConflict(Conflict):
    """The entity changed since it was read (its version is stale)."""

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(
            entity, "version", f"{entity} {entity_id!r} was changed by someone else"
        )
        self.entity_id = entity_id


class UnsupportedSpec(DomainError):
    """An adapter cannot translate a query spec."""


class InvalidSpec(UnsupportedSpec):
    """A spec value cannot compare with the field's declared type (a string against a
    date, a non-id against a reference); the query would silently match nothing."""

    def __init__(self, entity: str, field: str, value: object, expected: str) -> None:
        super().__init__(
            f"{entity}.{field} holds {expected}, so it cannot compare with {value!r} "
            f"({type(value).__name__}); pass {expected} or None"
        )
        self.entity = entity
        self.field = field
        self.value = value
        self.expected = expected


class UnknownField(DomainError):
    """A spec names a field the entity does not have."""

    def __init__(self, entity: str, field: str) -> None:
        super().__init__(f"{entity} has no field {field!r}")
        self.entity = entity
        self.field = field


class DeleteDenied(DomainError):
    """A delete rule (DENY) forbids removing the entity."""


class TransactionsUnsupported(DomainError):
    """The backend cannot run transactions (a standalone server, mongomock)."""


class UnitOfWorkError(DomainError):
    """The unit of work was used wrongly (outside its block, for example)."""


class InsufficientFunds(DomainError):
    """A transfer would take an account below zero."""
