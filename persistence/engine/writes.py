"""Native ``async_save`` and ``async_update``/``async_update_one`` (queryset).

These twins run MongoEngine 0.29.3's own I/O-free steps (validation, ``to_mongo``,
``_delta``, ``transform.update``, the queryset's query) in the task and await PyMongo's
async collection directly, instead of running the whole sync method in the bridge: the
bridge's cost is what the insert-one and ``update_one`` rows of the peer benchmark
showed (docs/performance.md).  They take this path only where MongoEngine's logic has
nothing that needs the bridge (:mod:`.plain_classes` decides from the runtime classes:
the document's, the embedded documents' it holds, the instance's own methods) and no
signal receiver, cascade or positional argument is involved.  Everything else runs the
sync method in the bridge.  Results, errors (``NotUniqueError``/``OperationError``
wrapping, ``SaveConditionError``), write concerns, ``_created``/``_changed_fields`` and
the transaction's session are the sync methods' own; ``tests/engine/test_native_writes.py``
runs both paths side by side, and checked mode compares them on every call.
"""

from __future__ import annotations

import re
from typing import Any

import pymongo.errors
from mongoengine import signals
from mongoengine.errors import NotUniqueError, OperationError, SaveConditionError
from mongoengine.queryset import transform
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from . import checked, compat, to_stored
from .class_collections import ensure_prepared
from .facades import unwrap
from .guard import check_async_target
from .plain_classes import from_mongoengine, plain_value, writes_plainly
from .query_values import compile_query
from .sessions import has_sessions, session_for
from .twin_factories import instance_twin, queryset_twin

__all__ = ["document_async_save", "queryset_async_update", "queryset_async_update_one"]

_general_save = instance_twin("save", "async_save")
_general_qs_update = queryset_twin("update", "async_update")
_general_qs_update_one = queryset_twin("update_one", "async_update_one")

_SAVE_SIGNALS = (signals.pre_save, signals.pre_save_post_validation, signals.post_save)
_SAVE_OPTIONS = frozenset(
    {"force_insert", "validate", "clean", "write_concern", "cascade", "cascade_kwargs",
     "save_condition", "signal_kwargs"}
)  # fmt: skip


def _quiet(cls: Any, sent: tuple[Any, ...]) -> bool:
    """True when none of the signals ``sent`` has a receiver for ``cls``."""
    return not any(signal.receivers and signal.has_receivers_for(cls) for signal in sent)


def _native_document(document: Any, sent: tuple[Any, ...]) -> bool:
    """True when ``document`` (its runtime class, the instance, the embedded documents
    it holds) writes plainly and no receiver of the signals ``sent`` listens."""
    return writes_plainly(document) and _quiet(type(document), sent)


def _session_kwargs(collection: Any) -> dict[str, Any]:
    if not has_sessions():
        return {}
    session = session_for(collection.database.client)
    return {} if session is None else {"session": unwrap(session)}


def _with_write_concern(collection: Any, write_concern: dict[str, Any]) -> Any:
    """As MongoEngine's ``set_write_concern`` (nothing to change when it is empty)."""
    if not write_concern:
        return collection
    combined = dict(collection.write_concern.document.items())
    combined.update(write_concern)
    return collection.with_options(write_concern=WriteConcern(**combined))


def _save_failure(err: pymongo.errors.OperationFailure) -> OperationError:
    """MongoEngine's error for a failed save: ``NotUniqueError`` for a
    duplicate key reported in the message, else ``OperationError``."""
    if re.match("^E1100[01] duplicate key", str(err)):
        return NotUniqueError(f"Tried to save duplicate unique keys ({err})")
    return OperationError(f"Could not save document ({err})")


# -- Document.save ----------------------------------------------------------------------


async def document_async_save(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Async twin of ``save()``: same arguments, result and errors."""
    check_async_target(self, "async_save")
    cascade = kwargs.get("cascade")
    cascade_kwargs = kwargs.get("cascade_kwargs")
    if cascade is None:
        cascade = compat.meta(self).get("cascade", False) or cascade_kwargs is not None
    if (
        args
        or cascade
        or not _SAVE_OPTIONS.issuperset(kwargs)
        or not _native_document(self, _SAVE_SIGNALS)
        or not plain_value(kwargs.get("save_condition"))
    ):
        return await _general_save(self, *args, **kwargs)
    return await _save(
        self,
        force_insert=kwargs.get("force_insert", False),
        validate=kwargs.get("validate", True),
        clean=kwargs.get("clean", True),
        write_concern=kwargs.get("write_concern") or {},
        save_condition=kwargs.get("save_condition"),
    )


async def _save(
    self: Any,
    force_insert: bool,
    validate: bool,
    clean: bool,
    write_concern: dict[str, Any],
    save_condition: Any,
) -> Any:
    cls = type(self)
    meta = compat.meta(self)
    if validate:
        self.validate(clean=clean)
    id_field = meta["id_field"]
    # MongoEngine converts the id alone first, then (after the pre_save_post_validation
    # signal, which has no receivers here) the whole document: once is the same.
    doc = to_stored.to_mongo(self)
    created = "_id" not in doc or compat.is_created(self) or force_insert
    collection = (await ensure_prepared(cls)).async_target
    session = _session_kwargs(collection)
    collection = _with_write_concern(collection, write_concern)
    if checked.ENABLED:
        collection = checked.recorded(collection)
    try:
        if created:
            object_id = await _save_create(self, collection, session, doc, force_insert)
        else:
            object_id, created = await _save_update(self, collection, session, doc, save_condition)
    except pymongo.errors.DuplicateKeyError as err:
        raise NotUniqueError(f"Tried to save duplicate unique keys ({err})") from err
    except pymongo.errors.OperationFailure as err:
        raise _save_failure(err) from err
    if created or id_field not in meta.get("shard_key", []):
        self[id_field] = compat.fields(self)[id_field].to_python(object_id)
    compat.clear_changed_fields(self)
    compat.set_created(self, False)
    return self


async def _save_create(
    self: Any, collection: Any, session: dict[str, Any], doc: Any, force_insert: bool
) -> Any:
    if not force_insert and "_id" in doc:
        select = compat.integrate_shard_key(self, doc, {"_id": doc["_id"]})
        if await collection.find_one_and_replace(select, doc, **session):
            return doc["_id"]
    return (await collection.insert_one(doc, **session)).inserted_id


async def _save_update(
    self: Any, collection: Any, session: dict[str, Any], doc: Any, save_condition: Any
) -> tuple[Any, bool]:
    object_id = doc["_id"]
    created = False
    select: dict[str, Any] = {}
    if save_condition is not None:
        select = transform.query(type(self), **save_condition)
    select["_id"] = object_id
    select = compat.integrate_shard_key(self, doc, select)
    update_doc = compat.get_update_doc(self)
    if update_doc:
        upsert = save_condition is None
        result = await collection.update_one(select, update_doc, upsert=upsert, **session)
        last_error = result.raw_result
        if not upsert and last_error["n"] == 0:
            raise SaveConditionError("Race condition preventing document update detected")
        if last_error is not None and last_error.get("updatedExisting") is False:
            created = True
    return object_id, created


# -- QuerySet.update(_one) --------------------------------------------------------------


_kept_methods: dict[tuple[type, tuple[str, ...]], bool] = {}


def _queryset_keeps_mongoengine(queryset: Any, *names: str) -> bool:
    """True when the queryset's class keeps MongoEngine's ``names`` (cached per class)."""
    key = (type(queryset), names)
    own = _kept_methods.get(key)
    if own is None:
        own = _kept_methods[key] = all(from_mongoengine(key[0], name) for name in names)
    return own


async def queryset_async_update_one(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Async twin of ``update_one()``: same arguments, result and errors."""
    check_async_target(self, "async_update_one")
    if (
        args
        or not _queryset_keeps_mongoengine(
            self, "update_one", "update", "clone", compat.QUERY_METHOD
        )
        or not plain_value(kwargs)  # documents in the values: their runtime classes
    ):
        return await _general_qs_update_one(self, *args, **kwargs)
    if "multi" in kwargs or "read_concern" in kwargs:  # update keys for update_one()
        return await _general_qs_update_one(self, **kwargs)
    return await _update(self, multi=False, **kwargs)


async def queryset_async_update(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Async twin of ``update()``: same arguments, result and errors."""
    check_async_target(self, "async_update")
    if (
        args
        or not _queryset_keeps_mongoengine(self, "update", "clone", compat.QUERY_METHOD)
        or not plain_value(kwargs)
    ):
        return await _general_qs_update(self, *args, **kwargs)
    return await _update(self, **kwargs)


async def _update(
    self: Any,
    upsert: bool = False,
    multi: bool = True,
    write_concern: dict[str, Any] | None = None,
    read_concern: dict[str, Any] | None = None,
    full_result: bool = False,
    array_filters: Any = None,
    **update: Any,
) -> Any:
    if not update and not upsert:
        raise OperationError("No update parameters, would remove data")
    if compat.is_none(self) or compat.empty(self):
        return 0
    document = compat.document(self)
    await ensure_prepared(document)
    await compile_query(self)
    query = compat.query(self)
    if "__raw__" in update and isinstance(update["__raw__"], list):  # an update pipeline
        update_doc: Any = [transform.update(document, __raw__=u) for u in update["__raw__"]]
    else:
        update_doc = transform.update(document, **update)
    if upsert and "_cls" in query:
        if "$set" in update_doc:
            update_doc["$set"]["_cls"] = compat.class_name(document)
        else:
            update_doc["$set"] = {"_cls": compat.class_name(document)}
    collection = unwrap(compat.collection_obj(self))
    session = _session_kwargs(collection)
    if write_concern or read_concern:  # as MongoEngine's set_read_write_concern
        write = dict(collection.write_concern.document.items())
        write.update(write_concern or {})
        read = dict(collection.read_concern.document.items())
        read.update(read_concern or {})
        collection = collection.with_options(
            write_concern=WriteConcern(**write), read_concern=ReadConcern(**read)
        )
    if checked.ENABLED:
        collection = checked.recorded(collection)
    write_method = collection.update_many if multi else collection.update_one
    try:
        result = await write_method(
            query, update_doc, upsert=upsert, array_filters=array_filters, **session
        )
    except pymongo.errors.DuplicateKeyError as err:
        raise NotUniqueError(f"Update failed ({err})") from err
    except pymongo.errors.OperationFailure as err:
        if str(err) == "multi not coded yet":
            raise OperationError("update() method requires MongoDB 1.1.3+") from err
        raise OperationError(f"Update failed ({err})") from err
    if full_result:
        return result
    if result.raw_result:
        return result.raw_result["n"]
    return None


if checked.ENABLED:  # each write compared with MongoEngine's own (see checked.py)
    from .checked_paths import checked_document_write, checked_queryset_write

    document_async_save = checked_document_write("writes.async_save", "save", document_async_save)
    queryset_async_update = checked_queryset_write(
        "writes.QuerySet.async_update", "update", queryset_async_update
    )
    queryset_async_update_one = checked_queryset_write(
        "writes.QuerySet.async_update_one", "update_one", queryset_async_update_one
    )
