"""Domain errors: what adapters raise, whatever the backend."""

from __future__ import annotations

__all__ = [
    "CommitOutcomeUnknown",
    "ConcurrencyConflict",
    "Conflict",
    "DeleteDenied",
    "DomainError",
    "EntityTooLarge",
    "FileStoreError",
    "FilesUnsupported",
    "InvalidEntity",
    "InvalidSpec",
    "NotFound",
    "StoreUnavailable",
    "StoredDataError",
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

    def __init__(self, entity: str, field: str | None, message: str | None = None) -> None:
        super().__init__(message or f"{entity} with this {field} already exists")
        self.entity = entity
        self.field = field


class ConcurrencyConflict(Conflict):
    """The entity changed since it was read (its version is stale), or, with
    ``write_conflict``, a concurrent transaction wrote the same data first (the server's
    write conflict).  ``field`` is the version field when the conflict is about it, else
    None; ``entity_id`` is None when not known.  Running the unit of work again is safe."""

    def __init__(
        self,
        entity: str,
        entity_id: object,
        *,
        write_conflict: bool = False,
        version_field: str | None = "version",
    ) -> None:
        if write_conflict:
            which = entity if entity_id is None else f"{entity} {entity_id!r}"
            message = (
                f"write conflict on {which}: a concurrent transaction wrote the same "
                "data first; nothing of this unit of work was committed, run it again"
            )
        else:
            message = f"{entity} {entity_id!r} was changed by someone else"
        super().__init__(entity, version_field, message)
        self.entity_id = entity_id
        self.write_conflict = write_conflict


class UnsupportedSpec(DomainError):
    """An adapter cannot translate a query spec."""


class InvalidSpec(UnsupportedSpec):
    """A spec value cannot compare with the field's declared type (a string against a
    date, a non-id against a reference); the query would silently match nothing."""

    def __init__(
        self,
        entity: str,
        field: str,
        value: object = None,
        expected: str = "",
        *,
        message: str | None = None,
    ) -> None:
        super().__init__(
            message
            or f"{entity}.{field} holds {expected}, so it cannot compare with {value!r} "
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


class InvalidEntity(DomainError):
    """The store refused the entity as it stands (a field its document rejects, a value
    out of the store's range); nothing was written.  ``problems`` maps each field path
    (or ``""`` when the store does not say) to a short reason, never the value itself."""

    def __init__(self, entity: str, problems: dict[str, str]) -> None:
        listed = "; ".join(f"{path}: {why}" if path else why for path, why in problems.items())
        super().__init__(f"{entity} refused by the store: {listed}")
        self.entity = entity
        self.problems = problems


class StoredDataError(DomainError):
    """A stored document its Document cannot load: it holds fields the (strict)
    Document does not declare, written by something other than this layer."""

    def __init__(
        self, entity: str, collection: str, entity_id: object, fields: tuple[str, ...]
    ) -> None:
        names = ", ".join(repr(f) for f in fields) or "fields"
        super().__init__(
            f"{entity} {entity_id!r} in collection {collection!r} holds {names}, which its "
            "Document does not declare; declare the field(s) on the Document, or let it "
            "load undeclared fields with meta = {'strict': False}"
        )
        self.entity = entity
        self.collection = collection
        self.entity_id = entity_id
        self.fields = fields


class EntityTooLarge(InvalidEntity):
    """The entity is larger than the store keeps in one record (``limit`` bytes)."""

    def __init__(self, entity: str, limit: int) -> None:
        super().__init__(entity, {"": f"larger than the {limit} bytes a record may hold"})
        self.limit = limit


class StoreUnavailable(DomainError):
    """The store could not be reached or lost the work in progress (an outage, a
    failover, a dropped connection).  ``retry_safe``: running the same work again cannot
    apply it twice (nothing of it was committed), so a caller may retry, or answer 503."""

    def __init__(self, message: str, *, retry_safe: bool) -> None:
        super().__init__(message)
        self.retry_safe = retry_safe


class FileStoreError(DomainError):
    """The file store failed an operation for a reason other than an outage (an outage
    is ``StoreUnavailable``): the server refused a write, a stored file is incomplete,
    or the backend has no file store.  A put that fails keeps nothing of it."""


class FilesUnsupported(FileStoreError):
    """The backend has no file store (mongomock: it has no GridFS)."""


class CommitOutcomeUnknown(StoreUnavailable):
    """A commit was sent, its answer never came, and the store stayed out of reach for
    the whole outage budget, so the unit of work could not learn whether it landed
    (never ``retry_safe``).  ``commit_id`` is the id of the block's commit record: the
    commit landed exactly when the store holds a record with that id (see the docs on
    commit records); until that is known the block must not be run again."""

    def __init__(self, message: str, *, commit_id: str) -> None:
        super().__init__(message, retry_safe=False)
        self.commit_id = commit_id
