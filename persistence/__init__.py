"""mongo-persistence: an async persistence layer for MongoDB on MongoEngine.

The public API is importable from here (``from persistence import Registry, F,
MongoUnitOfWork, InMemoryUnitOfWork``).  Each name loads its module on first use: the
pure parts (errors, ids, ports, specs, aggregation and relation specs, the codec) load
neither MongoEngine nor PyMongo, and nothing here switches the async MongoEngine API on;
``import persistence.engine`` does (once, idempotently, after checking the installed
versions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persistence.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from persistence.aggregation import (
        Accumulator as Accumulator,
    )
    from persistence.aggregation import (
        AddToSet as AddToSet,
    )
    from persistence.aggregation import (
        Aggregation as Aggregation,
    )
    from persistence.aggregation import (
        Arith as Arith,
    )
    from persistence.aggregation import (
        Avg as Avg,
    )
    from persistence.aggregation import (
        Const as Const,
    )
    from persistence.aggregation import (
        Count as Count,
    )
    from persistence.aggregation import (
        Expr as Expr,
    )
    from persistence.aggregation import (
        Field as Field,
    )
    from persistence.aggregation import (
        First as First,
    )
    from persistence.aggregation import (
        Last as Last,
    )
    from persistence.aggregation import (
        Max as Max,
    )
    from persistence.aggregation import (
        Min as Min,
    )
    from persistence.aggregation import (
        Push as Push,
    )
    from persistence.aggregation import (
        Sum as Sum,
    )
    from persistence.aggregation import (
        Unwind as Unwind,
    )
    from persistence.codec import (
        from_dict as from_dict,
    )
    from persistence.codec import (
        to_dict as to_dict,
    )
    from persistence.errors import (
        CommitOutcomeUnknown as CommitOutcomeUnknown,
    )
    from persistence.errors import (
        ConcurrencyConflict as ConcurrencyConflict,
    )
    from persistence.errors import (
        Conflict as Conflict,
    )
    from persistence.errors import (
        DeleteDenied as DeleteDenied,
    )
    from persistence.errors import (
        DomainError as DomainError,
    )
    from persistence.errors import (
        EntityTooLarge as EntityTooLarge,
    )
    from persistence.errors import (
        FileStoreError as FileStoreError,
    )
    from persistence.errors import (
        FilesUnsupported as FilesUnsupported,
    )
    from persistence.errors import (
        InvalidEntity as InvalidEntity,
    )
    from persistence.errors import (
        InvalidSpec as InvalidSpec,
    )
    from persistence.errors import (
        NotFound as NotFound,
    )
    from persistence.errors import (
        StoredDataError as StoredDataError,
    )
    from persistence.errors import (
        StoreUnavailable as StoreUnavailable,
    )
    from persistence.errors import (
        TransactionsUnsupported as TransactionsUnsupported,
    )
    from persistence.errors import (
        UnitOfWorkError as UnitOfWorkError,
    )
    from persistence.errors import (
        UnknownField as UnknownField,
    )
    from persistence.errors import (
        UnsupportedSpec as UnsupportedSpec,
    )
    from persistence.fields import (
        FileIdField as FileIdField,
    )
    from persistence.fields import (
        IdReferenceField as IdReferenceField,
    )
    from persistence.fields import (
        VersionField as VersionField,
    )
    from persistence.ids import (
        is_valid_id as is_valid_id,
    )
    from persistence.ids import (
        new_id as new_id,
    )
    from persistence.memory import (
        InMemoryRepository as InMemoryRepository,
    )
    from persistence.memory import (
        InMemoryStore as InMemoryStore,
    )
    from persistence.memory import (
        InMemoryUnitOfWork as InMemoryUnitOfWork,
    )
    from persistence.mongo import (
        MongoRepository as MongoRepository,
    )
    from persistence.mongo import (
        MongoUnitOfWork as MongoUnitOfWork,
    )
    from persistence.outbox import (
        DeadLetter as DeadLetter,
    )
    from persistence.outbox import (
        Delivery as Delivery,
    )
    from persistence.outbox import (
        HandlerRetry as HandlerRetry,
    )
    from persistence.outbox import (
        MemoryOutbox as MemoryOutbox,
    )
    from persistence.outbox import (
        MongoOutbox as MongoOutbox,
    )
    from persistence.outbox import (
        Outbox as Outbox,
    )
    from persistence.outbox import (
        UnknownEvent as UnknownEvent,
    )
    from persistence.outbox import (
        domain_event as domain_event,
    )
    from persistence.outbox import (
        handle_once as handle_once,
    )
    from persistence.ports import (
        AggregateRepository as AggregateRepository,
    )
    from persistence.ports import (
        FileInfo as FileInfo,
    )
    from persistence.ports import (
        FileStore as FileStore,
    )
    from persistence.ports import (
        QueryRepository as QueryRepository,
    )
    from persistence.ports import (
        Repository as Repository,
    )
    from persistence.ports import (
        UnitOfWork as UnitOfWork,
    )
    from persistence.registry import (
        Registration as Registration,
    )
    from persistence.registry import (
        RegistrationError as RegistrationError,
    )
    from persistence.registry import (
        Registry as Registry,
    )
    from persistence.relations import (
        Loaded as Loaded,
    )
    from persistence.relations import (
        Relation as Relation,
    )
    from persistence.relations import (
        Rule as Rule,
    )
    from persistence.relations import (
        load_related as load_related,
    )
    from persistence.retry_policy import (
        DEFAULT_RETRY_POLICY as DEFAULT_RETRY_POLICY,
    )
    from persistence.retry_policy import (
        NO_RETRY as NO_RETRY,
    )
    from persistence.retry_policy import (
        RetryPolicy as RetryPolicy,
    )
    from persistence.specs import (
        ALL as ALL,
    )
    from persistence.specs import (
        FIRST_PAGE as FIRST_PAGE,
    )
    from persistence.specs import (
        NO_ORDER as NO_ORDER,
    )
    from persistence.specs import (
        All as All,
    )
    from persistence.specs import (
        And as And,
    )
    from persistence.specs import (
        ArrayContains as ArrayContains,
    )
    from persistence.specs import (
        Change as Change,
    )
    from persistence.specs import (
        Changes as Changes,
    )
    from persistence.specs import (
        Compare as Compare,
    )
    from persistence.specs import (
        Exists as Exists,
    )
    from persistence.specs import (
        F as F,
    )
    from persistence.specs import (
        In as In,
    )
    from persistence.specs import (
        Matches as Matches,
    )
    from persistence.specs import (
        Not as Not,
    )
    from persistence.specs import (
        Or as Or,
    )
    from persistence.specs import (
        Order as Order,
    )
    from persistence.specs import (
        Page as Page,
    )
    from persistence.specs import (
        Predicate as Predicate,
    )
    from persistence.specs import (
        SortKey as SortKey,
    )
    from persistence.specs import (
        asc as asc,
    )
    from persistence.specs import (
        desc as desc,
    )
    from persistence.specs import (
        keyset_after as keyset_after,
    )

_HOMES: dict[str, str] = {
    "CommitOutcomeUnknown": "errors",
    "ConcurrencyConflict": "errors",
    "Conflict": "errors",
    "DeleteDenied": "errors",
    "DomainError": "errors",
    "EntityTooLarge": "errors",
    "FileStoreError": "errors",
    "FilesUnsupported": "errors",
    "InvalidEntity": "errors",
    "InvalidSpec": "errors",
    "NotFound": "errors",
    "StoreUnavailable": "errors",
    "StoredDataError": "errors",
    "TransactionsUnsupported": "errors",
    "UnitOfWorkError": "errors",
    "UnknownField": "errors",
    "UnsupportedSpec": "errors",
    "is_valid_id": "ids",
    "new_id": "ids",
    "AggregateRepository": "ports",
    "FileInfo": "ports",
    "FileStore": "ports",
    "QueryRepository": "ports",
    "Repository": "ports",
    "UnitOfWork": "ports",
    "ALL": "specs",
    "FIRST_PAGE": "specs",
    "NO_ORDER": "specs",
    "All": "specs",
    "And": "specs",
    "ArrayContains": "specs",
    "Change": "specs",
    "Changes": "specs",
    "Compare": "specs",
    "Exists": "specs",
    "F": "specs",
    "In": "specs",
    "Matches": "specs",
    "Not": "specs",
    "Or": "specs",
    "Order": "specs",
    "Page": "specs",
    "Predicate": "specs",
    "SortKey": "specs",
    "asc": "specs",
    "desc": "specs",
    "keyset_after": "specs",
    "Accumulator": "aggregation",
    "AddToSet": "aggregation",
    "Aggregation": "aggregation",
    "Arith": "aggregation",
    "Avg": "aggregation",
    "Const": "aggregation",
    "Count": "aggregation",
    "Expr": "aggregation",
    "Field": "aggregation",
    "First": "aggregation",
    "Last": "aggregation",
    "Max": "aggregation",
    "Min": "aggregation",
    "Push": "aggregation",
    "Sum": "aggregation",
    "Unwind": "aggregation",
    "Loaded": "relations",
    "Relation": "relations",
    "Rule": "relations",
    "load_related": "relations",
    "from_dict": "codec",
    "to_dict": "codec",
    "DeadLetter": "outbox",
    "Delivery": "outbox",
    "HandlerRetry": "outbox",
    "MemoryOutbox": "outbox",
    "MongoOutbox": "outbox",
    "Outbox": "outbox",
    "UnknownEvent": "outbox",
    "domain_event": "outbox",
    "handle_once": "outbox",
    "Registration": "registry",
    "RegistrationError": "registry",
    "Registry": "registry",
    "FileIdField": "fields",
    "IdReferenceField": "fields",
    "VersionField": "fields",
    "DEFAULT_RETRY_POLICY": "retry_policy",
    "NO_RETRY": "retry_policy",
    "RetryPolicy": "retry_policy",
    "MongoRepository": "mongo",
    "MongoUnitOfWork": "mongo",
    "InMemoryRepository": "memory",
    "InMemoryStore": "memory",
    "InMemoryUnitOfWork": "memory",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)
