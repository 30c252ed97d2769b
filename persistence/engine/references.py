"""References on async aliases: ``AsyncReferenceProxy`` instead of I/O on attribute access.

MongoEngine dereferences a ``ReferenceField`` (and generic and cached references, and
references inside lists, dicts and maps) the moment the attribute is read.  For a class
on an async alias that read happens outside the bridge, where no I/O is possible, so
the graft routes MongoEngine's loading points (``_lazy_load_ref``, ``DeReference`` on a
field, ``CachedReferenceField.to_python``) here: they hand back
:class:`AsyncReferenceProxy` objects, which know
their id without I/O and load the document on ``await proxy.async_fetch()``.  Inside
the bridge (``async_select_related``, delete rules) MongoEngine's own dereferencing runs
unchanged and batches one query per referenced collection; elsewhere in the bridge
(signal receivers, delete rules) references stay proxies, as they do outside it.

A proxy is a ``DBRef`` (as MongoEngine's ``LazyReference`` is), so saving, validation,
queries and delete rules treat it as the reference it stands for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bson import SON, DBRef, ObjectId
from mongoengine.base import get_document
from mongoengine.errors import DoesNotExist

from . import aliases, compat
from .bridge import greenlet_spawn
from .class_collections import ensure_prepared, is_async_class
from .querying_loads import loading_queries
from .sessions import session_for
from .sync_semantics import sync_semantics

__all__ = [
    "AsyncReferenceProxy",
    "document_async_fetch",
    "lazy_reference_async_fetch",
]


class AsyncReferenceProxy(DBRef):
    """A reference that has not been loaded: ``await ref.async_fetch()`` loads it.

    ``id``/``pk`` and the ``DBRef`` are available without I/O; it compares equal to the
    referenced document, to its id and to an equal ``DBRef``.  Once fetched, the document
    is remembered (a second ``async_fetch()`` runs no query) and its attributes can be
    read through the proxy.  Fields kept by a ``CachedReferenceField`` are readable
    before any fetch.  ``field_name`` is the field it was read from (None when made by
    hand); its ``repr`` is the async fork's: ``<AsyncReferenceProxy: author (unfetched)>``.
    """

    def __init__(
        self,
        document_type: type,
        ref: DBRef | Any,
        cached: Any = None,
        document: Any = None,
        field_name: str | None = None,
    ) -> None:
        if isinstance(ref, DBRef):
            super().__init__(ref.collection, ref.id, ref.database)
        else:
            super().__init__(compat.collection_name(document_type), ref)
        self.__dict__["document_type"] = document_type
        self.__dict__["_cache_copy"] = cached
        self.__dict__["_fetched"] = document
        self.__dict__["field_name"] = field_name

    @property
    def pk(self) -> Any:
        """The referenced document's primary key (no I/O)."""
        return self.id

    @property
    def is_fetched(self) -> bool:
        """True once the document has been loaded."""
        return self._fetched is not None

    def to_dbref(self) -> DBRef:
        """The plain ``DBRef`` of the reference."""
        return DBRef(self.collection, self.id, self.database)

    async def async_fetch(self, force: bool = False) -> Any:
        """The referenced document (``DoesNotExist`` if it is gone); ``force`` reloads."""
        if self._fetched is not None and not force:
            return self._fetched
        document = await fetch_by_id(self.document_type, self.id, self.to_dbref())
        self.__dict__["_fetched"] = document
        return document

    async def fetch(self, force: bool = False) -> Any:
        """Alias of :meth:`async_fetch`, the name the async MongoEngine fork uses."""
        return await self.async_fetch(force)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        document = self.__dict__.get("_fetched")
        if document is not None:
            return getattr(document, name)
        cached = self.__dict__.get("_cache_copy")
        if cached is not None and name in compat.data(cached):
            return getattr(cached, name)
        raise AttributeError(
            f"{self.document_type.__name__} reference {self.id!r} is not loaded and "
            f"attribute access does no I/O: use `await ref.async_fetch()` first "
            f"(or async_select_related())"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBRef):
            return self.id == other.id and self.collection == other.collection
        if compat.has_collection_name(other) and hasattr(other, "pk"):
            return bool(other.pk == self.id and compat.collection_name(other) == self.collection)
        return bool(self.id == other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        """``<AsyncReferenceProxy: <field> (unfetched)>`` (or ``(fetched)``), no I/O; the
        referenced class's name stands for the field when the proxy was made by hand."""
        label = self.__dict__["field_name"] or self.document_type.__name__
        state = "fetched" if self.__dict__["_fetched"] is not None else "unfetched"
        return f"<AsyncReferenceProxy: {label} ({state})>"

    def __deepcopy__(self, memo: Any) -> AsyncReferenceProxy:
        return AsyncReferenceProxy(
            self.document_type, self.to_dbref(), self._cache_copy, field_name=self.field_name
        )


async def fetch_by_id(document_type: Any, pk: Any, ref: Any) -> Any:
    """Load one document by primary key on its async alias, joining any transaction."""
    collection = (await ensure_prepared(document_type)).async_target
    session = session_for(collection.database.client)
    son = await collection.find_one({"_id": pk}, session=session)
    if son is None:
        raise DoesNotExist(f"Trying to dereference unknown document {ref}")
    if loading_queries(document_type, son):
        return await greenlet_spawn(compat.from_son, document_type, son)
    return compat.from_son(document_type, son)


def wants_proxy(document_type: Any) -> bool:
    """True when a reference to ``document_type`` is handed out as a proxy.

    Always so for async classes, in the bridge too, so a document looks the same however
    it was loaded; explicit loading (``async_fetch``, ``async_select_related``) fetches.
    Inside :func:`~.sync_semantics.run_sync` references load as in sync MongoEngine.
    """
    return is_async_class(document_type) and not sync_semantics()


class _LoaderForField:
    """``_lazy_load_ref`` that knows which field it loads for (the proxy's ``repr`` names it).

    MongoEngine declares it a staticmethod and calls it as ``self._lazy_load_ref(cls,
    dbref)``; read from a field it is bound to that field, read from the class it is the
    same two-argument function without one.
    """

    def __init__(self, load: Callable[[Any, Any, Any], Any], doc: str | None) -> None:
        self._load = load
        self.__doc__ = doc

    def __get__(self, field: Any, owner: Any = None) -> Callable[[Any, Any], Any]:
        return functools.partial(self._load, field)


def lazy_load_ref_wrapper(original: staticmethod) -> _LoaderForField:  # type: ignore[type-arg]
    """``_lazy_load_ref`` that hands back a proxy (no I/O) for async classes."""
    load = original.__func__

    def _lazy_load_ref(field: Any, ref_cls: Any, dbref: Any) -> Any:
        if isinstance(dbref, AsyncReferenceProxy):
            if dbref._fetched is None and sync_semantics():
                dbref.__dict__["_fetched"] = load(ref_cls, dbref.to_dbref())
            return dbref._fetched if dbref._fetched is not None else dbref
        if wants_proxy(ref_cls):
            return AsyncReferenceProxy(ref_cls, dbref, field_name=getattr(field, "name", None))
        return load(ref_cls, dbref)

    return _LoaderForField(_lazy_load_ref, load.__doc__)


def cached_to_python_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``CachedReferenceField.to_python``: cached fields without I/O on async aliases."""

    def to_python(self: Any, value: Any) -> Any:
        if isinstance(value, dict) and wants_proxy(self.document_type):
            document_type = self.document_type
            cached = compat.from_son(document_type, value)
            pk = document_type.id.to_python(value["_id"])
            return AsyncReferenceProxy(document_type, pk, cached=cached, field_name=self.name)
        return original(self, value)

    return to_python


def cached_to_mongo_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``CachedReferenceField.to_mongo`` of a proxy: its cached fields and id."""

    def to_mongo(self: Any, document: Any, use_db_field: bool = True, fields: Any = None) -> Any:
        if isinstance(document, AsyncReferenceProxy):
            document = document._fetched or document._cache_copy
        return original(self, document, use_db_field, fields)

    return to_mongo


def cached_validate_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``CachedReferenceField.validate`` accepts a proxy to the right document type."""

    def validate(self: Any, value: Any) -> Any:
        if isinstance(value, AsyncReferenceProxy) and issubclass(
            value.document_type, self.document_type
        ):
            return None
        return original(self, value)

    return validate


def generic_to_mongo_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``GenericReferenceField.to_mongo`` of a proxy keeps the ``{_cls, _ref}`` shape."""

    def to_mongo(self: Any, document: Any) -> Any:
        if isinstance(document, AsyncReferenceProxy):
            from bson import SON

            return SON(
                (("_cls", compat.class_name(document.document_type)), ("_ref", document.to_dbref()))
            )
        return original(self, document)

    return to_mongo


def generic_validate_choices_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``GenericReferenceField._validate_choices`` of a proxy: checked by the class it
    refers to, as MongoEngine checks the document it would have loaded in its place."""

    def _validate_choices(self: Any, value: Any) -> Any:
        if isinstance(value, AsyncReferenceProxy):
            value = compat.class_name(value.document_type)
        return original(self, value)

    return _validate_choices


def _proxy_for(value: Any, document_type: Any, field_name: str | None) -> Any:
    if isinstance(value, AsyncReferenceProxy):
        return value
    if isinstance(value, dict) and "_ref" in value and "_cls" in value:
        cls = get_document(value["_cls"])
        return AsyncReferenceProxy(cls, value["_ref"], field_name=field_name)
    if isinstance(value, DBRef) and document_type is not None:
        cls = get_document(value.cls) if hasattr(value, "cls") else document_type
        return AsyncReferenceProxy(cls, value, field_name=field_name)
    if isinstance(value, ObjectId) and document_type is not None:
        return AsyncReferenceProxy(document_type, value, field_name=field_name)
    return value


class _ProxyMap(dict):  # type: ignore[type-arg]
    """The ``object_map`` MongoEngine's ``DeReference`` attaches, without I/O.

    ``DeReference._attach_objects`` replaces each reference it meets by
    ``object_map.get((collection, id), reference)``; this map answers with an
    :class:`AsyncReferenceProxy` for the reference instead of the fetched document (a
    proxy already there stays), so everything else (nested ``BaseList``/``BaseDict``
    bound to the document, embedded documents, ``_cls`` dicts) is MongoEngine's own work.
    """

    def __init__(self, classes: dict[str, Any], doc_type: Any, field_name: str | None) -> None:
        super().__init__()
        self._classes = classes  # collection name -> referenced class
        self._doc_type = doc_type if compat.has_collection_name(doc_type) else None
        self._field_name = field_name  # the field holding the references

    def __contains__(self, key: object) -> bool:
        return False

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(default, AsyncReferenceProxy):
            return default
        made = dict.get(self, key)
        if made is None:
            made = self._proxy(key, default)
            if made is default:
                return default
            dict.__setitem__(self, key, made)
        return made

    def _proxy(self, key: Any, value: Any) -> Any:
        name = self._field_name
        if isinstance(value, dict) and "_ref" in value and "_cls" in value:
            cls = get_document(value["_cls"])
            return AsyncReferenceProxy(cls, value["_ref"], field_name=name)
        if isinstance(value, DBRef):
            cls = getattr(value, "cls", None)
            if cls is not None:
                return AsyncReferenceProxy(get_document(cls), value, field_name=name)
            document_type = self._classes.get(key[0], self._doc_type)
            if document_type is not None:
                return AsyncReferenceProxy(document_type, value, field_name=name)
        return value


def _proxy_objects(
    dereference: Any, doc_type: Any = None, field_name: str | None = None
) -> _ProxyMap:
    """``DeReference._fetch_objects`` for async classes: proxies, no query."""
    classes = {
        compat.collection_name(key): key
        for key in dereference.reference_map
        if getattr(key, "objects", None) is not None
    }
    return _ProxyMap(classes, doc_type, field_name)


def _hints(dereference: Any, items: Any, depth: int = 0) -> dict[Any, Any]:
    """``DeReference._find_references`` for :func:`_proxy_objects` (which classes the
    references belong to).  A loaded document may hold a proxy in a generic reference,
    where sync MongoEngine holds the document it loaded; MongoEngine's walk then looks
    for the field's ``document_type`` and fails: that level gives no hints (its
    references stay as they are, as MongoEngine leaves what it cannot load)."""
    try:
        return compat.find_references(type(dereference), dereference, items, depth)  # type: ignore[no-any-return]
    except AttributeError:
        return {}


def _loadable_references(dereference: Any, items: Any, depth: int = 0) -> dict[Any, Any]:
    """``DeReference._find_references`` where MongoEngine's own loading runs (sync
    semantics, ``select_related``): a proxy that async code left in a generic reference
    of a document among ``items`` goes back to what MongoEngine holds there, the stored
    ``{_cls, _ref}`` (or the document, once fetched), so MongoEngine loads it as it loads
    any other reference."""
    from mongoengine.base.document import BaseDocument

    for item in items.values() if isinstance(items, dict) else items or ():
        if isinstance(item, BaseDocument):
            data = compat.data(item)
            for field_name, field in compat.fields(item).items():
                value = data.get(field_name)
                if isinstance(value, AsyncReferenceProxy) and not hasattr(field, "document_type"):
                    class_name = compat.class_name(value.document_type)
                    data[field_name] = value._fetched or SON(
                        (("_cls", class_name), ("_ref", value.to_dbref()))
                    )
    return compat.find_references(type(dereference), dereference, items, depth)  # type: ignore[no-any-return]


def dereference_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DeReference.__call__`` that proxies instead of querying on async aliases.

    MongoEngine's own dereferencing runs (it also wraps nested lists and dicts in its
    change-tracking ``BaseList``/``BaseDict``); only its fetch of the referenced
    documents is replaced by proxies.  Sync classes (and everything inside
    :func:`~.sync_semantics.run_sync`) get MongoEngine's own dereferencing untouched.
    """

    def __call__(
        self: Any, items: Any, max_depth: int = 1, instance: Any = None, name: Any = None
    ) -> Any:
        if instance is not None and aliases.any_async() and not sync_semantics():
            field = compat.fields(instance).get(name) if name else None
            while field is not None and hasattr(field, "field"):
                field = field.field
            document_type = getattr(field, "document_type", None)
            if document_type is None or is_async_class(document_type):
                owner_async = _owner_is_async(instance)
                if owner_async is None:  # owner collected: go by the referenced class
                    owner_async = document_type is not None
                if owner_async:
                    proxy_objects = functools.partial(_proxy_objects, self, field_name=name)
                    compat.set_fetch_objects(self, proxy_objects)
                    compat.set_find_references(self, functools.partial(_hints, self))
                    return original(self, items, max_depth, instance, name)
        if aliases.any_async():  # MongoEngine's loading, over documents async code loaded
            compat.set_find_references(self, functools.partial(_loadable_references, self))
        return original(self, items, max_depth, instance, name)

    return __call__


def _owner_is_async(instance: Any) -> bool | None:
    """True when the top-level document holding ``instance`` is on an async alias.

    An embedded document reaches its owner through a weak proxy; None when that owner
    was already collected (``User.objects.first().groups[0]``).
    """
    owner = instance
    try:
        while not hasattr(type(owner), "objects"):
            owner = compat.embedded_owner_or_none(owner)
            if owner is None:
                return False
        return is_async_class(type(owner))
    except ReferenceError:
        return None


async def document_async_fetch(self: Any, force: bool = False) -> Any:
    """``Document.async_fetch()``: the document itself (reloaded with ``force``).

    Lets ``await obj.ref.async_fetch()`` work whether the reference holds a proxy or a
    document assigned in this process.
    """
    if force:
        await self.async_reload()
    return self


async def lazy_reference_async_fetch(self: Any, force: bool = False) -> Any:
    """``LazyReference.async_fetch()``: load (once) the referenced document."""
    if compat.cached_doc(self) is None or force:
        ref = DBRef(self.collection, self.pk)
        compat.set_cached_doc(self, await fetch_by_id(self.document_type, self.pk, ref))
    return compat.cached_doc(self)


def lazy_fetch_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LazyReference.fetch`` refuses async aliases, naming ``async_fetch``."""

    def fetch(self: Any, force: bool = False) -> Any:
        if wants_proxy(self.document_type) and (compat.cached_doc(self) is None or force):
            from .class_collections import alias_of

            raise RuntimeError(
                f"LazyReference.fetch() cannot run on async connection "
                f"'{alias_of(self.document_type)}': use await ref.async_fetch()"
            )
        return original(self, force)

    fetch.__doc__ = original.__doc__
    return fetch


async def field_async_fetch(self: Any, instance: Any) -> Any:
    """``await Model.field.async_fetch(doc)``: the document ``doc.field`` refers to.

    For ``ReferenceField`` (the loaded document replaces the reference in ``doc``, as
    sync dereferencing does), ``GenericReferenceField`` and the lazy reference fields
    (``doc.field`` stays a ``LazyReference``, which remembers the document).  None when
    the field is empty.  The async MongoEngine fork's spelling of ``doc.field.async_fetch()``.
    """
    from mongoengine.base.datastructures import LazyReference
    from mongoengine.fields import GenericLazyReferenceField, LazyReferenceField

    value = compat.data(instance).get(self.name)
    if value is None:
        return None
    if isinstance(value, LazyReference):
        return await value.async_fetch()
    if hasattr(type(value), "objects") and not isinstance(value, DBRef):
        return value  # already a document
    proxy = _proxy_for(value, getattr(self, "document_type", None), self.name)
    if not isinstance(proxy, AsyncReferenceProxy):
        proxy = getattr(instance, self.name)  # let the field convert what it stored
        if isinstance(proxy, LazyReference):
            return await proxy.async_fetch()
        if not isinstance(proxy, AsyncReferenceProxy):
            return proxy
    if not is_async_class(proxy.document_type):
        from .class_collections import alias_of

        raise RuntimeError(
            f"{type(self).__name__}.async_fetch() needs an async connection, but alias "
            f"'{alias_of(proxy.document_type)}' of {proxy.document_type.__name__} is a "
            "synchronous connection (not async): read the attribute directly"
        )
    document = await proxy.async_fetch()
    if not isinstance(self, (LazyReferenceField, GenericLazyReferenceField)):
        compat.data(instance)[self.name] = document
    return document
