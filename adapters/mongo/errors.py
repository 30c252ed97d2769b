"""Translation of MongoEngine/PyMongo errors into domain errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
from bson.errors import InvalidDocument
from mongoengine.errors import NotUniqueError, OperationError, ValidationError
from pymongo.errors import ConnectionFailure, DocumentTooLarge, OperationFailure, PyMongoError

from domain.errors import Conflict, EntityTooLarge, InvalidEntity, StoreUnavailable

from ..error_chain import error_chain

__all__ = [
    "MAX_RECORD_BYTES",
    "conflict_from",
    "duplicated_field",
    "is_duplicate_key",
    "refusals",
    "unavailable_from",
    "unencodable",
    "validation_problems",
]

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""MongoDB's largest document (``maxBsonObjectSize``)."""

_INT64 = (-(2**63), 2**63 - 1)
_REASON_CHARS = 120  # a reason never carries a large input back to the caller
_TOO_LARGE_CODES = frozenset({10334, 17419, 17420})  # BSONObjectTooLarge, update/upsert results
_NO_SUCH_TRANSACTION = 251
_SERVER_REFUSALS = (OperationError, OperationFailure)

_DUP_KEY = re.compile(r"dup key: \{ ?\"?([\w.]+)\"?:")


def is_duplicate_key(error: Exception) -> bool:
    """True for a duplicate-key failure, single or inside a bulk write."""
    if isinstance(error, NotUniqueError):
        return True
    cause = error.__cause__ or error.__context__
    details = getattr(cause, "details", None) or {}
    write_errors = details.get("writeErrors", []) if isinstance(details, dict) else []
    return bool(write_errors) and all(e.get("code") == 11000 for e in write_errors)


def duplicated_field(error: Exception) -> str | None:
    """The field a duplicate-key error is about, when the server says so."""
    cause = error.__cause__ or error.__context__
    details = getattr(cause, "details", None) or {}
    if isinstance(details, dict) and details.get("writeErrors"):
        details = details["writeErrors"][0]
    pattern = details.get("keyPattern") if isinstance(details, dict) else None
    if pattern:
        field = next(iter(pattern))
    else:
        match = _DUP_KEY.search(str(error))
        if match is None:
            return None
        field = match.group(1)
    return "id" if field == "_id" else field


async def conflict_from(error: NotUniqueError, entity_name: str, document: Any) -> Conflict:
    """A domain ``Conflict`` naming the duplicated field of a ``NotUniqueError``.

    Backends that do not say which key clashed (mongomock) are asked: the id if a
    document with it exists, else the first unique field holding the same value.
    """
    field = duplicated_field(error)
    if field is None:
        cls = type(document)
        if await cls.objects(pk=document.pk).async_exists():
            field = "id"
        else:
            unique = [name for name, f in cls._fields.items() if f.unique and name != "id"]
            field = unique[0] if unique else "id"
            for name in unique:
                if await cls.objects(**{name: document[name]}).async_exists():
                    field = name
                    break
    return Conflict(entity_name, field)


def _short(reason: str) -> str:
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "..."


def validation_problems(error: ValidationError) -> dict[str, str]:
    """MongoEngine's ``ValidationError`` as field path -> short reason."""
    problems: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            problems[prefix] = _short(str(node))

    walk("", error.to_dict() if error.errors else {error.field_name or "": error.message})
    return problems


def unencodable(value: Any, path: str = "") -> dict[str, str]:
    """Paths in ``value`` (an attrs entity, mapping or list of them) holding what BSON
    cannot store: an integer beyond 64 bits, a string that is not valid Unicode."""
    if attrs.has(type(value)):
        value = attrs.asdict(value, recurse=False)
    found: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = "" if str(key).startswith("$") else str(key)  # update operators
            found.update(unencodable(item, ".".join(p for p in (path, name) if p)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.update(unencodable(item, f"{path}.{index}" if path else str(index)))
    elif isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            found[path] = "an integer beyond the 64-bit range the store keeps"
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found[path] = "text that is not valid Unicode (a lone surrogate)"
    return found


def _too_large(exc: BaseException) -> bool:
    """The driver or the server found a document over the size limit (also inside a
    bulk write's errors)."""
    for link in error_chain(exc):
        if isinstance(link, DocumentTooLarge):
            return True
        if isinstance(link, OperationFailure):
            details = link.details if isinstance(link.details, dict) else {}
            codes = [link.code, *(e.get("code") for e in details.get("writeErrors", []))]
            if any(code in _TOO_LARGE_CODES for code in codes):
                return True
    return False


@contextmanager
def refusals(
    entity: str, *values: Any, doom: Callable[[BaseException], BaseException] | None = None
) -> Iterator[None]:
    """Turn the document layer's refusals of ``values`` (the entities, or the changes,
    being written) into domain errors: ``InvalidEntity`` for a field its Document rejects
    or a value out of BSON's range, ``EntityTooLarge`` past 16 MB.

    A Document's validation refuses before any I/O and the unit of work goes on.  The
    others are found while the driver encodes the command, or by the server, and leave
    the transaction unusable (a first statement that was never sent leaves the server
    without the transaction), so they are passed to ``doom`` as well."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidEntity(entity, validation_problems(exc)) from exc
    except (OverflowError, UnicodeEncodeError, InvalidDocument, *_SERVER_REFUSALS) as exc:
        server = isinstance(exc, _SERVER_REFUSALS)
        if _too_large(exc):
            error: InvalidEntity = EntityTooLarge(entity, MAX_RECORD_BYTES)
        elif server:
            raise
        else:
            problems = {}
            for value in values:
                problems.update(unencodable(value))
            error = InvalidEntity(entity, problems or {"": "a value the store cannot encode"})
        if doom is not None:
            doom(error)
        raise error from exc


def unavailable_from(exc: BaseException, *, retry_safe: bool) -> StoreUnavailable | None:
    """``StoreUnavailable`` if ``exc`` (or an error it was raised from) says the store
    is out of reach or lost the transaction, else None.

    ``retry_safe`` is what the caller knows (in a transaction that has not committed, or
    a read: True); the driver's labels overrule it: a commit whose result is unknown is
    not safe to re-run, a transient transaction error is.
    """
    for link in error_chain(exc):
        outage = isinstance(link, ConnectionFailure) or (
            isinstance(link, OperationFailure) and link.code == _NO_SUCH_TRANSACTION
        )
        if not outage:
            continue
        assert isinstance(link, PyMongoError)
        if link.has_error_label("UnknownTransactionCommitResult"):
            retry_safe = False
        elif link.has_error_label("TransientTransactionError"):
            retry_safe = True
        advice = (
            "nothing was applied, retrying is safe"
            if retry_safe
            else "the write may have been applied, check before retrying"
        )
        return StoreUnavailable(
            f"the store is unavailable ({type(link).__name__}); {advice}", retry_safe=retry_safe
        )
    return None
