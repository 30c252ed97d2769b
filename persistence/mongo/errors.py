"""Translation of MongoEngine/PyMongo errors into domain errors."""

from __future__ import annotations

import re
from typing import Any

from mongoengine.errors import NotUniqueError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from persistence.error_chain import error_chain
from persistence.errors import Conflict, StoreUnavailable

__all__ = ["conflict_from", "duplicated_field", "is_duplicate_key", "unavailable_from"]

_NO_SUCH_TRANSACTION = 251

_DUP_KEY = re.compile(r"dup key: \{ ?\"?([\w.]+)\"?:")

# PyMongo names a failed TLS handshake "[SSL: ...]" (a certificate the client does not
# trust, a certificate the server asked for and did not get, TLS to a plain server)
_TLS_FAILURE = re.compile(r"\[SSL[:\]]|certificate", re.IGNORECASE)
_TLS_ADVICE = (
    "the TLS handshake failed; check the CA file the client trusts (tlsCAFile) "
    "and the client certificate (tlsCertificateKeyFile)"
)


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


async def conflict_from(
    error: NotUniqueError, entity_name: str, document: Any, unique: tuple[tuple[str, ...], ...]
) -> Conflict:
    """A domain ``Conflict`` naming the duplicated field of a ``NotUniqueError``.

    Backends that do not say which key clashed (mongomock) are asked: the id if a
    document with it exists, else the first of the ``unique`` groups (the registry's)
    another document holds the same values of.
    """
    field = duplicated_field(error)
    if field is None:
        cls = type(document)
        groups = [group for group in unique if group != ("id",)]
        field = groups[0][0] if groups else "id"
        if await cls.objects(pk=document.pk).async_exists():
            field = "id"
        else:
            for group in groups:
                query = {name.replace(".", "__"): document[name] for name in group}
                if await cls.objects(**query).async_exists():
                    field = group[0]
                    break
    return Conflict(entity_name, field)


def tls_advice(exc: BaseException) -> str | None:
    """What to check when ``exc`` (or an error it was raised from) is a failed TLS
    handshake, else None."""
    for link in error_chain(exc):
        if isinstance(link, PyMongoError) and _TLS_FAILURE.search(str(link)):
            return _TLS_ADVICE
    return None


def unavailable_from(exc: BaseException, *, retry_safe: bool) -> StoreUnavailable | None:
    """``StoreUnavailable`` if ``exc`` (or an error it was raised from) says the store
    is out of reach, lost the transaction or did not answer in time, else None.

    ``retry_safe`` is what the caller knows (in a transaction that has not committed, or
    a read: True); the driver's labels overrule it: a commit whose result is unknown is
    not safe to re-run, a transient transaction error is.
    """
    for link in error_chain(exc):
        outage = (
            isinstance(link, ConnectionFailure)
            or (isinstance(link, OperationFailure) and link.code == _NO_SUCH_TRANSACTION)
            or (isinstance(link, PyMongoError) and link.timeout)  # past the outage budget
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
        why = type(link).__name__
        if advice_for_tls := tls_advice(link):
            why += f": {advice_for_tls}"
        message = f"the store is unavailable ({why}); {advice}"
        return StoreUnavailable(message, retry_safe=retry_safe)
    return None
