# ruff: noqa: E402  (the imports of MongoEngine internals follow the version check)
"""The one place the engine touches MongoEngine's and PyMongo's private names.

The engine is an add-on over the unmodified PyPI releases; what it needs beyond their
public API (private attributes of documents, querysets and cursors, private imports,
the methods it replaces) is read, set, called and replaced here and nowhere else, and
:data:`INVENTORY` lists every such name: its owner, what the engine uses it for, and
the releases it was checked on.  ``tests/engine/test_compat_inventory.py`` reads the
code and fails when code and inventory disagree in either direction (docs/engine.md,
"Compatibility").

The version check runs first, when this module is imported, before anything reads an
internal: ``persistence.engine`` imports this module before any other.  Outside the
supported range the import fails naming the range and what was found;
``PERSISTENCE_UNSUPPORTED_VERSIONS=1`` lets it go on (to try a new release: the
inventory test and the version runs then say what changed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from enum import Enum
from importlib import metadata
from operator import attrgetter
from typing import Any, NamedTuple

__all__ = [
    "CHECKED_ON",
    "INVENTORY",
    "OURS_ALSO_IN_LIBRARIES",
    "SUPPORTED",
    "How",
    "Private",
    "UnsupportedVersionError",
    "check_versions",
    "document_registry",
    "get_connection_settings",
    "get_documents_by_db",
    "replace",
    "replace_value",
    "replaced",
]

# -- supported releases ------------------------------------------------------------------

# distribution -> (lowest, highest) supported release, both included; every release in
# between is tested by .ci/versions/run.py (PyMongo: the lowest and the highest).
# MongoEngine 0.29.0 is left out: it imports ``pymongo.database._check_name``, which no
# PyMongo with the async API has (4.13 and later), so it cannot even be imported.
SUPPORTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mongoengine": ((0, 29, 1), (0, 29, 3)),
    "pymongo": ((4, 13, 0), (4, 20, 1)),
}
# the releases the version runs check the inventory on (.ci/versions/run.py reads this)
CHECKED_ON: dict[str, tuple[str, ...]] = {
    "mongoengine": ("0.29.1", "0.29.2", "0.29.3"),
    "pymongo": ("4.13.0", "4.20.1"),
}
_CHECKED = "mongoengine 0.29.1, 0.29.2, 0.29.3; pymongo 4.13.0, 4.20.1"


class UnsupportedVersionError(ImportError):
    """An installed MongoEngine or PyMongo release outside the supported range."""


def _release(text: str) -> tuple[int, ...]:
    """``"4.14.0rc1"`` -> ``(4, 14, 0)``: the leading numbers of a version."""
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() < len(part):
            break
    return tuple(parts)


def _dotted(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def supported_range() -> str:
    """``"mongoengine 0.29.1 to 0.29.3 and pymongo 4.13.0 to 4.20.1"``."""
    return " and ".join(
        f"{name} {_dotted(low)} to {_dotted(high)}" for name, (low, high) in SUPPORTED.items()
    )


def check_versions(found: dict[str, str] | None = None) -> None:
    """Raise :class:`UnsupportedVersionError` unless every installed release (or each
    of ``found``: distribution -> version) is in :data:`SUPPORTED`."""
    if found is None:
        found = {name: metadata.version(name) for name in SUPPORTED}
    outside = [
        name
        for name, (low, high) in SUPPORTED.items()
        if not low <= _release(found[name])[: len(high)] <= high
    ]
    if outside:
        installed = ", ".join(f"{name} {found[name]}" for name in SUPPORTED)
        raise UnsupportedVersionError(
            f"mongo-persistence supports {supported_range()}; found {installed}. "
            f"Install a supported release (pip install 'mongo-persistence' resolves one), "
            f"or set PERSISTENCE_UNSUPPORTED_VERSIONS=1 to try this one at your own risk."
        )


if os.environ.get("PERSISTENCE_UNSUPPORTED_VERSIONS") != "1":
    check_versions()

# -- the inventory -----------------------------------------------------------------------


class How(Enum):
    """How the engine uses a private name."""

    READ = "read"
    SET = "set (and read)"
    CALLED = "called"
    IMPORTED = "imported"
    REPLACED = "replaced by the engine's wrapper (graft.py)"


class Private(NamedTuple):
    """One inventoried name: ``owner`` is ``module:Class`` (or ``module``) as defined by
    the library; the inventory test checks the installed module still defines it."""

    name: str
    owner: str
    use: str
    how: How = How.READ
    checked_on: str = _CHECKED


_ME_DOC = "mongoengine.base.document:BaseDocument"
_ME_DOCUMENT = "mongoengine.document:Document"
_ME_META = "mongoengine.base.metaclasses:DocumentMetaclass"
_ME_QS = "mongoengine.queryset.base:BaseQuerySet"
_ME_FIELD = "mongoengine.base.fields:BaseField"
_ME_CONTAINER = "mongoengine.base.datastructures:BaseList/BaseDict"
_ME_CONNECTION = "mongoengine.connection"
_ME_DEREF = "mongoengine.dereference:DeReference"
_PM_CURSOR = "pymongo.asynchronous.cursor:AsyncCursor"
_R, _S, _C, _I, _X = How.READ, How.SET, How.CALLED, How.IMPORTED, How.REPLACED

INVENTORY: tuple[Private, ...] = (
    # documents and Document classes
    Private("_data", _ME_DOC, "field values of a document: fast paths read and fill it", _S),
    Private("_changed_fields", _ME_DOC, "loaded state: set on load, compared in checked mode", _S),
    Private("_created", _ME_DOC, "insert or update on save; set on load and after a save", _S),
    Private("_initialised", _ME_DOC, "loaded state: set on load, compared in checked mode", _S),
    Private("_dynamic_fields", _ME_DOC, "loaded state: set on load, compared in checked mode", _S),
    Private(
        "_instance",
        "mongoengine.document:EmbeddedDocument",
        "owner of an embedded document or container: set on load, copied in checked mode",
        _S,
    ),
    Private("_fields", _ME_META, "a class's declared fields: plans, schemas, mapping"),
    Private("_fields_ordered", _ME_META, "the order to_mongo walks the fields in"),
    Private("_meta", _ME_META, "class options: alias, collection, abstract, inheritance, indexes"),
    Private("_class_name", _ME_META, "the stored _cls value of a class"),
    Private(
        "_dynamic",
        "mongoengine.document:DynamicDocument",
        "dynamic documents take MongoEngine's own paths",
    ),
    Private("_from_son", _ME_DOC, "MongoEngine's loading: the fallback of the load fast path", _X),
    Private(
        "_get_collection_name", _ME_DOC, "the collection of a class (honours switch_collection)", _X
    ),
    Private("_get_db", _ME_DOCUMENT, "the database of a class (honours switch_db)", _X),
    Private(
        "_get_collection",
        _ME_DOCUMENT,
        "a class's collection: an I/O-free facade on async aliases",
        _X,
    ),
    Private(
        "_collection",
        _ME_DOCUMENT,
        "the collection MongoEngine caches per class: the engine caches its facade there",
        _S,
    ),
    Private(
        "_get_capped_collection",
        _ME_DOCUMENT,
        "creating a capped collection on first use (async aliases)",
        _C,
    ),
    Private(
        "_get_timeseries_collection",
        _ME_DOCUMENT,
        "creating a time-series collection on first use",
        _C,
    ),
    Private("_clear_changed_fields", _ME_DOC, "after the native save, as Document.save does", _C),
    Private(
        "_mark_as_changed", _ME_DOC, "a FileField written by async_put marks its field changed", _C
    ),
    Private(
        "_get_update_doc", _ME_DOCUMENT, "the native save's update document (MongoEngine's own)", _C
    ),
    Private(
        "_integrate_shard_key", _ME_DOCUMENT, "the native save's filter (MongoEngine's own)", _C
    ),
    Private("_save_create", _ME_DOCUMENT, "write methods a plain class keeps from MongoEngine"),
    Private("_save_update", _ME_DOCUMENT, "write methods a plain class keeps from MongoEngine"),
    Private("_delta", _ME_DOC, "write methods a plain class keeps from MongoEngine"),
    Private("_object_key", _ME_DOCUMENT, "write methods a plain class keeps from MongoEngine"),
    Private("_qs", _ME_DOCUMENT, "write methods a plain class keeps from MongoEngine"),
    Private("_BaseDocument__get_field_display", _ME_DOC, "get_<field>_display of loaded documents"),
    # fields and containers
    Private("_auto_gen", _ME_FIELD, "fields whose value to_mongo generates (SequenceField)"),
    Private(
        "_to_mongo_safe_call", _ME_FIELD, "list items whose conversion the serialise plan may skip"
    ),
    Private("_BaseField__auto_dereference", _ME_FIELD, "set on load as _from_son sets it", _S),
    Private("_auto_dereference", _ME_QS, "no_dereference state of a queryset, passed to loading"),
    Private(
        "_thread_local_storage",
        _ME_FIELD,
        "MongoEngine's thread-local no_dereference state: made task-local",
        _X,
    ),
    Private(
        "_lazy_load_ref",
        "mongoengine.fields:ReferenceField",
        "reference loading on attribute access: proxies on async aliases",
        _X,
    ),
    Private(
        "_validate_choices",
        "mongoengine.fields:GenericReferenceField",
        "choices of a generic reference holding a proxy",
        _X,
    ),
    Private("_name", _ME_CONTAINER, "the field a container belongs to: copied in checked mode", _S),
    Private("_dereferenced", _ME_CONTAINER, "copied in checked mode", _S),
    Private(
        "_cached_doc",
        "mongoengine.base.datastructures:LazyReference",
        "async_fetch caches the document where fetch() does",
        _S,
    ),
    Private(
        "_fs",
        "mongoengine.fields:GridFSProxy",
        "the proxy's GridFS: an async facade on async aliases",
        _S,
    ),
    Private(
        "_find_references", _ME_DEREF, "proxies for async classes instead of loading references", _S
    ),
    Private("_fetch_objects", _ME_DEREF, "proxies for async classes instead of querying", _S),
    # querysets
    Private("_document", _ME_QS, "the queryset's Document class"),
    Private("_collection_obj", _ME_QS, "the queryset's collection (a facade on async aliases)", _S),
    Private("_cursor_obj", _ME_QS, "the queryset's cursor: reset and copied by fast paths", _S),
    Private("_cursor", _ME_QS, "the queryset's cursor, made on first use"),
    Private("_cursor_args", _ME_QS, "find() options MongoEngine derives (projection, timeouts)"),
    Private("_query_obj", _ME_QS, "the Q object of a queryset: compiled and extended", _S),
    Private("_mongo_query", _ME_QS, "the compiled filter: reset when the Q object changes", _S),
    Private("_query", _ME_QS, "the compiled filter, with _cls"),
    Private("_cls_query", _ME_QS, "the _cls filter of an inheriting class", _S),
    Private("_none", _ME_QS, "a none() queryset reads nothing"),
    Private("_empty", _ME_QS, "an empty queryset reads nothing; set by raw finds", _S),
    Private("_limit", _ME_QS, "limit of a queryset (also AsyncCursor._limit, see below)", _S),
    Private("_skip", _ME_QS, "skip of a queryset (also AsyncCursor._skip)", _S),
    Private("_ordering", _ME_QS, "sort of a queryset", _S),
    Private("_as_pymongo", _ME_QS, "as_pymongo(): rows instead of documents", _S),
    Private("_scalar", _ME_QS, "scalar()/values_list() fields"),
    Private("_get_scalar", _ME_QS, "values of scalar() from a document", _C),
    Private("_hint", _ME_QS, "find option the native get passes on"),
    Private("_collation", _ME_QS, "find option the native get passes on"),
    Private("_comment", _ME_QS, "find option the native get passes on"),
    Private("_batch_size", _ME_QS, "find option the native get passes on"),
    Private("_read_preference", _ME_QS, "read preference the native get passes on"),
    Private("_read_concern", _ME_QS, "read concern the native get passes on"),
    Private("_search_text", _ME_QS, "search_text() takes MongoEngine's path"),
    Private("_where_clause", _ME_QS, "where() takes MongoEngine's path"),
    Private("_get_order_by", _ME_QS, "order_by keys of a raw find", _C),
    Private("_has_data", _ME_QS, "bool(queryset) in the bridge", _C),
    Private("_fields_to_dbfields", _ME_QS, "item_frequencies' field path", _C),
    Private("_BaseQuerySet__auto_dereference", _ME_QS, "copied by the queryset copy fast path", _S),
    Private("_clone_into", _ME_QS, "queryset copies: the copy fast path", _X),
    Private("_loaded_fields", _ME_QS, "copied by _clone_into (checked against the fast copy)"),
    Private("_snapshot", _ME_QS, "copied by _clone_into"),
    Private("_timeout", _ME_QS, "copied by _clone_into"),
    Private("_allow_disk_use", _ME_QS, "copied by _clone_into"),
    Private("_iter", _ME_QS, "copied by _clone_into"),
    Private("_search_text_score", _ME_QS, "copied by _clone_into"),
    Private("_max_time_ms", _ME_QS, "copied by _clone_into"),
    # module-level names
    Private(
        "_document_registry",
        "mongoengine.base.common",
        "classes by _cls name: which load may query",
        _I,
    ),
    Private(
        "_get_documents_by_db",
        "mongoengine.base.common",
        "classes of a database (disconnect resets their facades)",
        _I,
    ),
    Private(
        "_get_connection_settings",
        _ME_CONNECTION,
        "connect_async validates arguments as connect() does",
        _I,
    ),
    Private("_connection_settings", _ME_CONNECTION, "aliases registered by sync connect()"),
    Private(
        "_get_connection",
        _ME_CONNECTION,
        "MongoEngine's internal connection lookup: async aliases answered",
        _X,
    ),
    # PyMongo
    Private("_data", _PM_CURSOR, "rows a cursor holds: the async iterator drains them in batches"),
    Private("_limit", _PM_CURSOR, "a facade's cursor slicing (cursor[i:j])", _S),
    Private("_skip", _PM_CURSOR, "a facade's cursor slicing (cursor[i:j])", _S),
    Private("_empty", _PM_CURSOR, "a facade's cursor slicing to nothing", _S),
    Private("_query_flags", _PM_CURSOR, "a sliced tailable cursor drops TAILABLE_AWAIT", _S),
    Private(
        "_check_okay_to_chain",
        _PM_CURSOR,
        "a facade's cursor slicing refuses a started cursor",
        _C,
    ),
    Private(
        "_SON__keys", "bson.son:SON", "the serialise plan builds a SON's key order at once", _S
    ),
    # the rest of what graft.py replaces (public names; the sync I/O methods it guards are
    # the rows of the table of twins, twins.py)
    Private(
        "_get_db",
        _ME_CONNECTION,
        "MongoEngine's internal database lookup: async aliases answered",
        _X,
    ),
    *(
        Private("get_db", module, "the database of an alias: async aliases answered", _X)
        for module in (
            "mongoengine",
            "mongoengine.connection",
            "mongoengine.context_managers",
            "mongoengine.dereference",
            "mongoengine.document",
            "mongoengine.fields",
            "mongoengine.queryset.base",
        )
    ),
    *(
        Private("get_connection", module, "the client of an alias: async aliases answered", _X)
        for module in ("mongoengine", "mongoengine.connection", "mongoengine.mongodb_support")
    ),
    Private("register_connection", "mongoengine", "refuses an alias registered as async", _X),
    Private("register_connection", _ME_CONNECTION, "refuses an alias registered as async", _X),
    Private("disconnect", "mongoengine", "refuses to close an async alias", _X),
    Private("disconnect", _ME_CONNECTION, "refuses to close an async alias", _X),
    Private(
        "thread_locals",
        "mongoengine.context_managers",
        "MongoEngine's thread-local switches: made task-local",
        _X,
    ),
    Private("to_mongo", _ME_DOCUMENT, "the serialise fast path on async aliases", _X),
    Private(
        "__init__",
        _ME_QS,
        "a queryset made inside async_switch_* or async_no_sub_classes takes the switch",
        _X,
    ),
    Private(
        "__repr__",
        "mongoengine.queryset.queryset:QuerySet",
        "repr without I/O on async aliases",
        _X,
    ),
    Private(
        "__repr__",
        "mongoengine.queryset.queryset:QuerySetNoCache",
        "repr without I/O on async aliases",
        _X,
    ),
    Private(
        "_lazy_load_ref",
        "mongoengine.fields:CachedReferenceField",
        "reference loading on attribute access: proxies on async aliases",
        _X,
    ),
    Private(
        "_lazy_load_ref",
        "mongoengine.fields:GenericReferenceField",
        "reference loading on attribute access: proxies on async aliases",
        _X,
    ),
    Private(
        "to_python",
        "mongoengine.fields:CachedReferenceField",
        "cached fields without I/O on async aliases",
        _X,
    ),
    Private(
        "to_mongo", "mongoengine.fields:CachedReferenceField", "a proxy's cached fields and id", _X
    ),
    Private(
        "validate",
        "mongoengine.fields:CachedReferenceField",
        "a proxy validates as its document",
        _X,
    ),
    Private("to_mongo", "mongoengine.fields:GenericReferenceField", "a proxy's _cls and _ref", _X),
    Private(
        "__call__",
        "mongoengine.dereference:DeReference",
        "proxies instead of queries on async aliases",
        _X,
    ),
    Private(
        "fetch",
        "mongoengine.base.datastructures:LazyReference",
        "fetch() inside run_sync, refusal outside",
        _X,
    ),
    Private(
        "fs",
        "mongoengine.fields:GridFSProxy",
        "the proxy's GridFS: an async facade on async aliases",
        _X,
    ),
)

_REPLACEABLE = frozenset((row.owner, row.name) for row in INVENTORY if row.how is How.REPLACED)

# Private names of our own that one of the libraries happens to define too (the check
# cannot tell the objects apart; each one here was looked at and is ours where used).
OURS_ALSO_IN_LIBRARIES: frozenset[str] = frozenset(
    {"_active", "_client", "_files", "_id", "_lock", "_pending", "_replace", "_target",
     "_task", "_token"}
)  # fmt: skip

# -- reading, setting and calling ----------------------------------------------------------
# Each accessor stands for one inventoried name; the engine never spells the name itself.

from mongoengine.base.common import (  # after the version check
    _document_registry as document_registry,
)
from mongoengine.base.common import (
    _get_documents_by_db as get_documents_by_db,
)
from mongoengine.connection import (
    _get_connection_settings as get_connection_settings,
)

# documents and Document classes
data = attrgetter("_data")
fields = attrgetter("_fields")
fields_ordered = attrgetter("_fields_ordered")
meta = attrgetter("_meta")
class_name = attrgetter("_class_name")
is_dynamic = attrgetter("_dynamic")
is_created = attrgetter("_created")
class_collection = attrgetter("_collection")
field_display = attrgetter("_BaseDocument__get_field_display")
#: the state attributes a loaded document has, in the order MongoEngine sets them
DOCUMENT_STATE = ("_initialised", "_created", "_changed_fields", "_dynamic_fields", "_data")
#: the Document methods the native writes stand in for or call
DOCUMENT_WRITE_METHODS = frozenset(
    {"save", "_save_create", "_save_update", "_get_update_doc", "_integrate_shard_key",
     "_delta", "validate", "clean", "to_mongo", "_clear_changed_fields", "cascade_save",
     "delete", "update", "_object_key", "_qs", "_get_collection", "__setitem__"}
)  # fmt: skip


def declared_fields(cls: Any) -> dict[str, Any] | None:
    """The declared fields of a Document class, None for anything else."""
    return getattr(cls, "_fields", None)


def is_document_like(value: Any) -> bool:
    """True for a document of any kind (it has declared fields and values)."""
    return hasattr(value, "_fields") and hasattr(value, "_data")


def has_meta(cls: Any) -> bool:
    return hasattr(cls, "_meta")


def is_dynamic_class(cls: Any) -> bool:
    return bool(getattr(cls, "_dynamic", False))


def class_collection_or_none(obj: Any) -> Any:
    """The collection a document or class holds (``switch_db`` sets it), or None."""
    return getattr(obj, "_collection", None)


def embedded_owner_or_none(value: Any) -> Any:
    """The document an embedded document or container belongs to, or None."""
    return getattr(value, "_instance", None)


def container_name_or_none(container: Any) -> Any:
    return getattr(container, "_name", None)


def override_get_collection(doc: Any, get_collection: Callable[[], Any] | None) -> None:
    """Give one document its own ``_get_collection`` (None: take it away again)."""
    if get_collection is None:
        doc.__dict__.pop("_get_collection", None)
    else:
        doc.__dict__["_get_collection"] = get_collection


def set_created(doc: Any, created: bool) -> None:
    doc._created = created


def set_class_collection(cls: Any, collection: Any) -> None:
    cls._collection = collection


def state_setter(name: str) -> Callable[[Any, Any], None]:
    """The slot setter of one of :data:`DOCUMENT_STATE` (or ``"_instance"``), bypassing
    ``BaseDocument.__setattr__`` as ``_from_son`` does."""
    from mongoengine.base.document import BaseDocument
    from mongoengine.document import EmbeddedDocument

    owner = EmbeddedDocument if name == EMBEDDED_OWNER else BaseDocument
    return vars(owner)[name].__set__  # type: ignore[no-any-return]


EMBEDDED_OWNER = "_instance"
embedded_owner = attrgetter("_instance")


def from_son(cls: Any, son: Any, *args: Any, **kwargs: Any) -> Any:
    """``cls._from_son(son, ...)``: the class's own loading (its override, if any)."""
    return cls._from_son(son, *args, **kwargs)


def from_son_method(cls: Any) -> Any:
    """``cls._from_son``, bound to ``cls``."""
    return cls._from_son


def loads_itself(cls: Any) -> bool:
    """True when a class between ``cls`` and BaseDocument defines its own ``_from_son``."""
    from mongoengine.base.document import BaseDocument

    return any("_from_son" in vars(k) for k in cls.__mro__ if k is not BaseDocument)


def mongoengine_from_son() -> Callable[..., Any]:
    """``BaseDocument._from_son`` as the class holds it now (the graft's wrapper once
    grafted), unbound: ``(cls, son, auto, created)``."""
    from mongoengine.base.document import BaseDocument

    return BaseDocument._from_son.__func__  # type: ignore[no-any-return]


def collection_name(cls: Any) -> Any:
    return cls._get_collection_name()


def has_collection_name(obj: Any) -> bool:
    return hasattr(obj, "_get_collection_name")


def document_db(cls: Any) -> Any:
    return cls._get_db()


def get_collection(cls: Any) -> Any:
    return cls._get_collection()


def get_capped_collection(cls: Any) -> Any:
    return cls._get_capped_collection()


def get_timeseries_collection(cls: Any) -> Any:
    return cls._get_timeseries_collection()


def clear_changed_fields(doc: Any) -> None:
    doc._clear_changed_fields()


def mark_as_changed(obj: Any, *key: str) -> None:
    obj._mark_as_changed(*key)


def get_update_doc(doc: Any) -> Any:
    return doc._get_update_doc()


def integrate_shard_key(doc: Any, *args: Any, **kwargs: Any) -> Any:
    return doc._integrate_shard_key(*args, **kwargs)


# fields and containers
auto_gen = attrgetter("_auto_gen")
container_name = attrgetter("_name")
dereferenced = attrgetter("_dereferenced")
cached_doc = attrgetter("_cached_doc")
proxy_fs = attrgetter("_fs")
thread_local_storage = attrgetter("_thread_local_storage")
TO_MONGO_SAFE_CALL = "_to_mongo_safe_call"


#: set with ``setattr(field, FIELD_AUTO_DEREFERENCE, True)`` on the load fast path (per
#: field and document: a builtin call, not a function of ours)
FIELD_AUTO_DEREFERENCE = "_BaseField__auto_dereference"


def set_container_owner(container: Any, owner: Any, name: Any) -> None:
    container._instance = owner
    container._name = name


def set_dereferenced(container: Any, value: Any) -> None:
    container._dereferenced = value


def has_dereferenced(container: Any) -> bool:
    return hasattr(container, "_dereferenced")


def set_cached_doc(reference: Any, document: Any) -> None:
    reference._cached_doc = document


def set_proxy_fs(proxy: Any, fs: Any) -> None:
    proxy._fs = fs


def find_references(cls: Any, dereference: Any, items: Any, depth: Any) -> Any:
    """``DeReference._find_references`` as ``cls`` defines it, run on ``dereference``."""
    return cls._find_references(dereference, items, depth)


def set_find_references(dereference: Any, method: Any) -> None:
    dereference._find_references = method


def set_fetch_objects(dereference: Any, method: Any) -> None:
    dereference._fetch_objects = method


# querysets
document = attrgetter("_document")
collection_obj = attrgetter("_collection_obj")
cursor_obj = attrgetter("_cursor_obj")
cursor = attrgetter("_cursor")
cursor_args = attrgetter("_cursor_args")
query_obj = attrgetter("_query_obj")
mongo_query = attrgetter("_mongo_query")
query = attrgetter("_query")
cls_query = attrgetter("_cls_query")
is_none = attrgetter("_none")
empty = attrgetter("_empty")
limit = attrgetter("_limit")
skip = attrgetter("_skip")
as_pymongo = attrgetter("_as_pymongo")
scalar = attrgetter("_scalar")
hint = attrgetter("_hint")
collation = attrgetter("_collation")
query_annotation = attrgetter("_comment")  # comment() text
batch_size = attrgetter("_batch_size")
read_preference = attrgetter("_read_preference")
read_concern = attrgetter("_read_concern")
search_text = attrgetter("_search_text")
where_clause = attrgetter("_where_clause")
auto_dereference = attrgetter("_auto_dereference")
QUERYSET_AUTO_DEREFERENCE = "_BaseQuerySet__auto_dereference"
queryset_auto_dereference = attrgetter(QUERYSET_AUTO_DEREFERENCE)
#: the attributes MongoEngine 0.29's ``_clone_into`` copies, in its order
CLONE_COPIED = (
    "_mongo_query", "_cls_query", "_none", "_query_obj", "_where_clause", "_loaded_fields",
    "_ordering", "_snapshot", "_timeout", "_allow_disk_use", "_read_preference",
    "_read_concern", "_iter", "_scalar", "_as_pymongo", "_limit", "_skip", "_empty",
    "_hint", "_collation", "_search_text", "_search_text_score", "_max_time_ms",
    "_comment", "_batch_size",
)  # fmt: skip
#: what a raw find's queryset is compared on in checked mode, beyond :data:`CLONE_COPIED`
RAW_FIND_COMPARED = ("_query", "_cursor_args", "_document", "_collection_obj")
#: the queryset methods a plain class's write fast path relies on
QUERY_METHOD = "_query"


def has_document(queryset: Any) -> bool:
    """True for a queryset (it has a Document class), False for a document or class."""
    return hasattr(queryset, "_document")


def has_collection_obj(queryset: Any) -> bool:
    return hasattr(queryset, "_collection_obj")


def set_collection_obj(queryset: Any, collection: Any) -> None:
    queryset._collection_obj = collection


def set_cursor_obj(queryset: Any, cursor: Any) -> None:
    queryset._cursor_obj = cursor


def set_query_obj(queryset: Any, query: Any) -> None:
    queryset._query_obj = query


def set_mongo_query(queryset: Any, query: Any) -> None:
    queryset._mongo_query = query


def set_cls_query(queryset: Any, query: Any) -> None:
    queryset._cls_query = query


def set_empty(obj: Any, empty: bool) -> None:
    obj._empty = empty


def set_limit(obj: Any, limit: Any) -> None:
    obj._limit = limit


def set_skip(obj: Any, skip: Any) -> None:
    obj._skip = skip


def set_ordering(queryset: Any, ordering: Any) -> None:
    queryset._ordering = ordering


def set_as_pymongo(queryset: Any, value: bool) -> None:
    queryset._as_pymongo = value


def set_queryset_auto_dereference(queryset: Any, value: Any) -> None:
    queryset._BaseQuerySet__auto_dereference = value


def get_scalar(queryset: Any, doc: Any) -> Any:
    return queryset._get_scalar(doc)


def get_order_by(queryset: Any, keys: Any) -> Any:
    return queryset._get_order_by(keys)


def has_data(queryset: Any) -> bool:
    return queryset._has_data()  # type: ignore[no-any-return]


def fields_to_dbfields(queryset: Any, names: Any) -> Any:
    return queryset._fields_to_dbfields(names)


# PyMongo cursors (``data``, ``limit``, ``skip``, ``set_limit``, ... above serve both)
query_flags = attrgetter("_query_flags")


def set_query_flags(cursor: Any, flags: int) -> None:
    cursor._query_flags = flags


def check_okay_to_chain(cursor: Any) -> None:
    cursor._check_okay_to_chain()


#: the key order of a ``SON`` built by filling its dict directly: the serialise fast path
#: sets it with ``setattr(son, SON_KEYS, keys)`` (per document: a builtin call)
SON_KEYS = "_SON__keys"


# module-level names
def connection_settings() -> dict[str, Any]:
    """The aliases sync ``connect()`` registered (read each time: tests rebind it)."""
    from mongoengine import connection

    return connection._connection_settings  # type: ignore[no-any-return]


# -- what the engine replaces ----------------------------------------------------------------

# the private names graft.py replaces (so that they are spelled here only)
FROM_SON = "_from_son"
GET_COLLECTION = "_get_collection"
GET_DB = "_get_db"
GET_COLLECTION_NAME = "_get_collection_name"
CLONE_INTO = "_clone_into"
LAZY_LOAD_REF = "_lazy_load_ref"
VALIDATE_CHOICES = "_validate_choices"
GET_CONNECTION = "_get_connection"
THREAD_LOCAL_STORAGE = "_thread_local_storage"

_replaced: set[tuple[str, str]] = set()
_guarded: set[tuple[str, str]] = set()


def _owner_key(owner: Any) -> str:
    if isinstance(owner, type):
        return f"{owner.__module__}:{owner.__qualname__}"
    return str(owner.__name__)


def replace(owner: Any, name: str, make: Callable[[Any], Any], *, twin_guard: bool = False) -> None:
    """Replace MongoEngine's ``owner.name`` by ``make(original)``.

    Refuses a name the inventory does not list as replaced (``twin_guard``: a sync I/O
    method guarded for its row in the table of twins, which lists those)."""
    key = (_owner_key(owner), name)
    if not twin_guard and key not in _REPLACEABLE:
        raise KeyError(f"{key[0]}.{name} is not inventoried as replaced (compat.INVENTORY)")
    original = vars(owner)[name]
    setattr(owner, name, make(original))
    (_guarded if twin_guard else _replaced).add(key)


def replace_value(owner: Any, name: str, value: Any) -> None:
    """Set ``owner.name`` (a module function or class attribute MongoEngine defines) to
    ``value``; the inventory must list it as replaced."""
    replace(owner, name, lambda _original: value)


def replaced() -> set[tuple[str, str]]:
    """(owner, name) of every inventoried replacement made so far."""
    return set(_replaced)


def guarded() -> set[tuple[str, str]]:
    """(owner, name) of every sync method guarded for its twin so far."""
    return set(_guarded)
