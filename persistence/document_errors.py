"""The document layer's refusals of an entity as domain errors, for both adapters.

Both adapters run the same MongoEngine pipeline (mapping, validation, BSON encoding),
so both see the same rejections: a field its Document refuses, a value BSON cannot
hold, a document over 16 MB.  :func:`refusals` turns each into ``InvalidEntity`` /
``EntityTooLarge``, with short reasons that never carry a large input back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
from bson.errors import InvalidDocument
from mongoengine.errors import FieldDoesNotExist, OperationError, ValidationError
from pymongo.errors import DocumentTooLarge, OperationFailure

from persistence.engine import compat
from persistence.engine.from_stored import load
from persistence.error_chain import error_chain
from persistence.errors import EntityTooLarge, InvalidEntity, StoredDataError

__all__ = [
    "MAX_RECORD_BYTES",
    "loaded",
    "refusals",
    "stored_data_error",
    "unencodable",
    "validation_problems",
]

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""MongoDB's largest document (``maxBsonObjectSize``)."""

_INT64 = (-(2**63), 2**63 - 1)
_REASON_CHARS = 120  # a reason never carries a large input back to the caller
_TOO_LARGE_CODES = frozenset({10334, 17419, 17420})  # BSONObjectTooLarge, update/upsert results
_SERVER_REFUSALS = (OperationError, OperationFailure)


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
    entity: str,
    *values: Any,
    mark_rollback_only: Callable[[BaseException], BaseException] | None = None,
) -> Iterator[None]:
    """Turn the document layer's refusals of ``values`` (the entities, or the changes,
    being written) into domain errors: ``InvalidEntity`` for a field its Document rejects
    or a value out of BSON's range, ``EntityTooLarge`` past 16 MB.

    A Document's validation refuses before any I/O and the unit of work goes on.  The
    others are found while the driver encodes the command, or by the server, and leave
    the transaction unusable (a first statement that was never sent leaves the server
    without the transaction), so they are also passed to ``mark_rollback_only`` (the unit of
    work's, which makes the block roll back)."""
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
        if mark_rollback_only is not None:
            mark_rollback_only(error)
        raise error from exc


def stored_data_error(
    document_cls: type[Any],
    entity: str,
    son: dict[str, Any] | None,
    exc: Exception,
    entity_id: object = None,
) -> StoredDataError:
    """The domain error for a stored document with fields ``document_cls`` lacks."""
    meta: dict[str, Any] = compat.meta(document_cls)
    collection = str(meta.get("collection") or document_cls.__name__)
    if son is not None:
        declared = {f.db_field for f in compat.fields(document_cls).values()}
        extra = tuple(sorted(k for k in son if k not in declared and k not in ("_id", "_cls")))
        entity_id = str(son["_id"]) if "_id" in son else entity_id
    else:
        found = re.search(r"\{(.*?)\}", str(exc))
        extra = tuple(sorted(n.strip(" '\"") for n in found.group(1).split(","))) if found else ()
    return StoredDataError(entity, collection, entity_id, extra)


def loaded(document_cls: type[Any], entity: str, son: dict[str, Any]) -> Any:
    """``son`` loaded as ``document_cls`` (``StoredDataError`` for undeclared fields)."""
    try:
        return load(document_cls, son)
    except FieldDoesNotExist as exc:
        raise stored_data_error(document_cls, entity, son, exc) from None
