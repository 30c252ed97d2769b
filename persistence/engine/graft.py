"""The one module that grafts the async API onto the unmodified PyPI MongoEngine.

:func:`activate` (run by ``import persistence.engine``) is idempotent. It adds the ``async_``
twins, guards the sync I/O methods against async aliases, teaches ``get_db`` and
``get_connection`` about async aliases, routes ``Document._get_collection`` for async
classes to I/O-free facades, makes MongoEngine's thread-local state task-local, lets
signals await coroutine receivers during ``async_`` operations, and exports the new
names from the ``mongoengine`` package. It never overwrites a name that MongoEngine
itself defines, and replaces only what the compatibility inventory lists (compat.py,
which also checks the MongoEngine and PyMongo versions on import).
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from typing import Any

import mongoengine
from blinker import Signal
from mongoengine import connection as me_connection
from mongoengine.connection import DEFAULT_CONNECTION_NAME

from . import (
    aliases,
    checked,
    class_collections,
    compat,
    concern_overrides,
    connection,
    context_managers,
    files,
    from_stored,
    query_counter,
    queryset_copies,
    references,
    to_stored,
    transactions,
    twin_factories,
)
from .guard import guard_classmethod, guard_item_access, guard_method, targets_async
from .signals import install_async_receivers
from .sync_semantics import run_sync, sync_semantics
from .task_local import TaskLocal
from .twins import (
    TWINS,
    Make,
    Owner,
    hand_written_document_twins,
    hand_written_twins,
    owner_classes,
)

__all__ = ["GraftError", "activate", "is_active"]

_MARK = "__persistence_async__"


class GraftError(ImportError):
    """MongoEngine cannot be grafted (a name clash)."""


def is_active() -> bool:
    """True once :func:`activate` has run."""
    return bool(getattr(mongoengine, _MARK, False))


def _add(owner: Any, name: str, value: Any) -> None:
    """Add a new attribute, refusing to shadow anything MongoEngine defines."""
    if name in vars(owner):
        raise GraftError(f"{getattr(owner, '__name__', owner)}.{name} already exists")
    setattr(owner, name, value)


def _replace(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    """Wrap an existing attribute of MongoEngine (an inventoried one, compat.INVENTORY)."""
    compat.replace(owner, name, make)


def _guard(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    """Wrap a sync I/O method of MongoEngine (a row of the table of twins, twins.py)."""
    compat.replace(owner, name, make, twin_guard=True)


def _guarding(guard: Callable[[Any, str], Any], twin: str) -> Callable[[Any], Any]:
    """The wrapper maker ``_guard`` takes: ``guard`` applied to the original and ``twin``."""
    return lambda original: guard(original, twin)


# -- connections -------------------------------------------------------------------


def _get_db_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_db(alias: str = DEFAULT_CONNECTION_NAME, reconnect: bool = False) -> Any:
        if aliases.is_async_connection(alias):
            return connection.db_for_alias(alias)
        return original(alias, reconnect)

    return get_db


def _get_connection_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_connection(alias: str = DEFAULT_CONNECTION_NAME, reconnect: bool = False) -> Any:
        if aliases.is_async_connection(alias):
            return connection.connection_for_alias(alias)
        return original(alias, reconnect)

    return get_connection


def _register_connection_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def register_connection(alias: str, *args: Any, **kwargs: Any) -> Any:
        if aliases.is_async_connection(alias):
            raise me_connection.ConnectionFailure(
                f"Alias {alias!r} is already registered as an async connection; "
                "use another alias or await disconnect_async() first"
            )
        return original(alias, *args, **kwargs)

    return register_connection


def _disconnect_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def disconnect(alias: str = DEFAULT_CONNECTION_NAME) -> Any:
        if aliases.is_async_connection(alias):
            raise RuntimeError(
                f"disconnect() cannot close async connection '{alias}': "
                f"use await disconnect_async({alias!r})"
            )
        return original(alias)

    return disconnect


def _graft_connections() -> None:
    import mongoengine.context_managers as me_cm
    import mongoengine.dereference as me_deref
    import mongoengine.document as me_document
    import mongoengine.fields as me_fields
    import mongoengine.mongodb_support as me_support
    import mongoengine.queryset.base as me_qs_base

    get_db = _get_db_wrapper(me_connection.get_db)
    get_connection = _get_connection_wrapper(me_connection.get_connection)
    for module in (me_connection, mongoengine, me_cm, me_deref, me_document, me_fields, me_qs_base):
        if getattr(module, "get_db", None) is not None:
            compat.replace_value(module, "get_db", get_db)
    compat.replace_value(me_connection, compat.GET_DB, get_db)
    for module in (me_connection, mongoengine, me_support):
        if getattr(module, "get_connection", None) is not None:
            compat.replace_value(module, "get_connection", get_connection)
    compat.replace_value(me_connection, compat.GET_CONNECTION, get_connection)
    register = _register_connection_wrapper(me_connection.register_connection)
    compat.replace_value(me_connection, "register_connection", register)
    compat.replace_value(mongoengine, "register_connection", register)
    disconnect = _disconnect_wrapper(me_connection.disconnect)
    compat.replace_value(me_connection, "disconnect", disconnect)
    compat.replace_value(mongoengine, "disconnect", disconnect)


# -- documents and querysets ---------------------------------------------------------


def _get_collection_wrapper(original: classmethod) -> classmethod:  # type: ignore[type-arg]
    fetch = original.__func__

    @functools.wraps(fetch)
    def _get_collection(cls: Any) -> Any:
        ready = class_collections.ready_facade(cls)
        if ready is not None:  # prepared before, nothing changed since: the cached facade
            if checked.ENABLED:
                checked.note("class_collections (cached collection)")
                if class_collections.facade_collection(cls) is not ready:
                    raise checked.report("class_collections (cached collection)", cls, "stale")
            return ready
        if aliases.any_async() and class_collections.is_async_class(cls):
            return class_collections.facade_collection(cls)
        return fetch(cls)

    return classmethod(_get_collection)


def _safe_repr_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __repr__(self: Any) -> str:
        if targets_async(self) and not sync_semantics():
            name = compat.document(self).__name__
            return f"<{type(self).__name__} of {name} on an async connection (not evaluated)>"
        return original(self)  # type: ignore[no-any-return]

    return __repr__


def _graft_documents() -> None:
    from mongoengine.base.document import BaseDocument
    from mongoengine.document import Document

    _replace(Document, compat.GET_COLLECTION, _get_collection_wrapper)
    _replace(Document, compat.GET_DB, context_managers.get_db_wrapper)
    _replace(BaseDocument, compat.GET_COLLECTION_NAME, context_managers.collection_name_wrapper)
    _replace(BaseDocument, compat.FROM_SON, from_stored.from_son_wrapper)  # fast path in the bridge
    _replace(Document, "to_mongo", to_stored.to_mongo_wrapper)  # fast path on async aliases
    native = hand_written_document_twins()
    for owner, sync_name, twin, make in TWINS:
        if owner is Owner.DOCUMENT:
            _guard(Document, sync_name, _guarding(guard_method, twin))
            if make is Make.HAND_WRITTEN:
                _add(Document, twin, native[twin])
            else:
                _add(Document, twin, twin_factories.instance_twin(sync_name, twin))
        elif owner is Owner.DOCUMENT_CLASS:
            _guard(Document, sync_name, _guarding(guard_classmethod, twin))
            _add(Document, twin, twin_factories.class_twin(sync_name, twin))
    # The async MongoEngine fork's spelling: ``await Model._async_get_collection()``.
    _add(Document, "_async_get_collection", classmethod(class_collections.async_get_collection))


def _graft_querysets() -> None:
    from mongoengine.queryset.base import BaseQuerySet

    _replace(BaseQuerySet, "__init__", context_managers.queryset_init_wrapper)
    _replace(BaseQuerySet, compat.CLONE_INTO, queryset_copies.clone_into_wrapper)
    rows = [row for row in TWINS if row.owner is Owner.QUERYSET]
    for owner in owner_classes(Owner.QUERYSET):
        for _, sync_name, twin, _ in rows:
            if sync_name in vars(owner):
                guard = guard_item_access if sync_name == "__getitem__" else guard_method
                _guard(owner, sync_name, _guarding(guard, twin))
        if "__repr__" in vars(owner):
            _replace(owner, "__repr__", _safe_repr_wrapper)
    for _, sync_name, twin, make in rows:
        if make is Make.GENERATED:
            _add(BaseQuerySet, twin, twin_factories.queryset_twin(sync_name, twin))
    for name, method in hand_written_twins().items():
        _add(BaseQuerySet, name, method)


# -- references -------------------------------------------------------------------------


def _graft_references() -> None:
    from mongoengine.base.datastructures import LazyReference
    from mongoengine.dereference import DeReference
    from mongoengine.document import Document
    from mongoengine.fields import (
        CachedReferenceField,
        GenericReferenceField,
        LazyReferenceField,
        ReferenceField,
    )

    for field_cls in owner_classes(Owner.REFERENCE_LOAD):
        _replace(field_cls, compat.LAZY_LOAD_REF, references.lazy_load_ref_wrapper)
    _replace(CachedReferenceField, "to_python", references.cached_to_python_wrapper)
    _replace(CachedReferenceField, "to_mongo", references.cached_to_mongo_wrapper)
    _replace(CachedReferenceField, "validate", references.cached_validate_wrapper)
    _replace(GenericReferenceField, "to_mongo", references.generic_to_mongo_wrapper)
    _replace(
        GenericReferenceField, compat.VALIDATE_CHOICES, references.generic_validate_choices_wrapper
    )
    _replace(DeReference, "__call__", references.dereference_wrapper)
    _replace(LazyReference, "fetch", references.lazy_fetch_wrapper)
    _add(LazyReference, "async_fetch", references.lazy_reference_async_fetch)
    _add(Document, "async_fetch", references.document_async_fetch)
    # The async MongoEngine fork's spelling: ``await Model.field.async_fetch(doc)``
    # (GenericLazyReferenceField inherits it from GenericReferenceField).
    for field_cls in (ReferenceField, LazyReferenceField, GenericReferenceField):
        _add(field_cls, "async_fetch", references.field_async_fetch)


# -- GridFS -------------------------------------------------------------------------------


def _graft_files() -> None:
    import mongoengine.fields as me_fields
    from mongoengine.fields import FileField, GridFSProxy

    _replace(GridFSProxy, "fs", files.fs_wrapper)
    rows = [row for row in TWINS if row.owner is Owner.FILE_PROXY]
    for owner in owner_classes(Owner.FILE_PROXY):
        for _, name, twin, _ in rows:
            if name in vars(owner):
                _guard(owner, name, functools.partial(files.guard_proxy_method, name, twin))
    for name, method in files.proxy_async_methods().items():
        _add(GridFSProxy, name, method)
    for name, method in files.field_async_methods().items():
        _add(FileField, name, method)
    # The async MongoEngine fork's file handle (what ``Model.file.async_put`` returns).
    _add(me_fields, "AsyncGridFSProxy", files.AsyncGridFSProxy)


# -- task-local state ----------------------------------------------------------------


def _graft_task_local_state() -> None:
    import mongoengine.context_managers as me_cm
    from mongoengine.base.fields import BaseField

    compat.replace_value(me_cm, "thread_locals", TaskLocal(no_dereferencing_class=dict))
    compat.replace_value(BaseField, compat.THREAD_LOCAL_STORAGE, TaskLocal())


# -- signals -------------------------------------------------------------------------


def _graft_signals() -> None:
    from mongoengine import signals as me_signals

    sent = [s for s in vars(me_signals).values() if isinstance(s, Signal)]
    install_async_receivers(sent)
    if checked.ENABLED:  # which signals reach a receiver, per operation
        checked.install_signal_recorders(sent)


# -- exports -------------------------------------------------------------------------

EXPORTS: dict[str, Any] = {
    "connect_async": connection.connect_async,
    "disconnect_async": connection.disconnect_async,
    "disconnect_all_async": connection.disconnect_all_async,
    "is_async_connection": connection.is_async_connection,
    "get_async_db": connection.get_async_db,
    "get_async_connection": connection.get_async_connection,
    "async_run_in_transaction": transactions.async_run_in_transaction,
    "async_transaction": transactions.async_transaction,
    "async_set_write_concern": concern_overrides.async_set_write_concern,
    "async_set_read_write_concern": concern_overrides.async_set_read_write_concern,
    "async_query_counter": query_counter.async_query_counter,
    "async_switch_db": context_managers.async_switch_db,
    "async_switch_collection": context_managers.async_switch_collection,
    "async_no_dereference": context_managers.async_no_dereference,
    "async_no_sub_classes": context_managers.async_no_sub_classes,
    "AsyncReferenceProxy": references.AsyncReferenceProxy,
    "run_sync": run_sync,
}


# Where the async MongoEngine fork (PR #2891) defines these names, so that code written
# for it imports them unchanged.
FORK_CONNECTION_EXPORTS = (
    "connect_async",
    "disconnect_async",
    "disconnect_all_async",
    "is_async_connection",
    "get_async_db",
    "get_async_connection",
)
FORK_CONTEXT_MANAGERS = (
    "async_switch_db",
    "async_switch_collection",
    "async_no_dereference",
    "async_no_sub_classes",
    "async_run_in_transaction",
    "async_set_write_concern",
    "async_set_read_write_concern",
    "async_query_counter",
)


def _export(module: Any, name: str, value: Any) -> None:
    _add(module, name, value)
    exported = getattr(module, "__all__", None)
    if exported is not None and name not in exported:
        module.__all__ = [*exported, name]


def _graft_exports() -> None:
    import mongoengine.base as me_base
    import mongoengine.base.datastructures as me_datastructures

    for name, value in EXPORTS.items():
        _export(mongoengine, name, value)
    for name in FORK_CONNECTION_EXPORTS:
        _export(me_connection, name, EXPORTS[name])
    for module in (me_datastructures, me_base):
        _export(module, "AsyncReferenceProxy", references.AsyncReferenceProxy)
    # ``mongoengine.async_context_managers``: the fork's module of async context managers.
    name = "mongoengine.async_context_managers"
    if name in sys.modules:
        raise GraftError(f"{name} already exists")
    managers = types.ModuleType(name, "Async twins of mongoengine.context_managers.")
    for manager in FORK_CONTEXT_MANAGERS:
        setattr(managers, manager, EXPORTS[manager])
    managers.__all__ = list(FORK_CONTEXT_MANAGERS)  # type: ignore[attr-defined]
    _add(mongoengine, "async_context_managers", managers)
    sys.modules[name] = managers


def activate() -> None:
    """Graft the async API onto MongoEngine (once; later calls do nothing)."""
    if is_active():
        return
    _graft_connections()
    _graft_documents()
    _graft_querysets()
    _graft_references()
    _graft_files()
    _graft_task_local_state()
    _graft_signals()
    _graft_exports()
    setattr(mongoengine, _MARK, True)
