"""pytest plugin (loaded after ``through_engine``): every sync I/O call runs its ``async_`` twin.

``through_engine`` runs each test as sync code inside ``run_sync``.  This plugin wraps
every sync method of :data:`persistence.engine.twins.TWINS`: called by the test's
own code on an async target, it awaits the twin instead, so ``doc.save()`` runs what
``await doc.async_save()`` runs, ``Doc.objects.get()`` what ``async_get`` runs, each
document of an iteration comes from the async iterator, ``doc.file.read()`` is
``async_read``, reading a reference is ``AsyncReferenceProxy.async_fetch``...  The twin
runs exactly as when a coroutine awaits it (``plain_async_semantics``): the sync code it
runs in the bridge is MongoEngine's, and is not dispatched again.

The dispatch is derived from the table: a row is awaited as ``owner.<twin>(*args,
**kwargs)`` unless :data:`ADAPTERS` says how its call maps to the twin, or
:data:`NOT_DISPATCHED` says why it cannot be mapped; a row in none of them (a new
``SHARED`` row) stops the run.  Overrides of these methods in subclasses (a Document
overriding ``save``) are wrapped too, so the dispatch happens at the outermost call.
Dispatches are counted per row and printed in one summary line.
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter
from collections.abc import Callable
from typing import Any

from persistence.engine import aliases, await_only
from persistence.engine.class_collections import is_async_class
from persistence.engine.facades import facade_for
from persistence.engine.guard import targets_async
from persistence.engine.iteration import QuerySetAsyncIterator
from persistence.engine.references import AsyncReferenceProxy
from persistence.engine.sync_semantics import plain_async_semantics, sync_semantics
from persistence.engine.twins import TWINS, Make, Owner, Twin, owner_classes

SUMMARY = "native dispatch:"

# Rows whose sync call has no twin call of its own, and why.
NOT_DISPATCHED: dict[tuple[Owner, str], str] = {
    (Owner.QUERYSET, "__iter__"): (
        "no I/O of its own: it hands back the queryset or its cache; every document "
        "comes through __next__, which is dispatched"
    ),
    (Owner.QUERYSET, "__len__"): (
        "QuerySet.__len__ iterates the whole result into the queryset's cache (every "
        "document through the dispatched __next__) and answers the cache's length"
    ),
    **{
        (Owner.FILE_PROXY, name): (
            "a file written piece by piece over several sync calls; the async API writes "
            "it with one context manager (Model.field.async_writer(doc))"
        )
        for name in ("new_file", "write", "writelines", "close")
    },
}


def _next_document(queryset: Any) -> Any:
    """``next(queryset)``: one step of ``async for`` over the queryset's own cursor, so
    the QuerySet's cache, ``next()`` and ``rewind()`` keep their sync meaning."""
    try:
        return await_only(QuerySetAsyncIterator(queryset).__anext__())
    except StopAsyncIteration:
        raise StopIteration from None


def _item(queryset: Any, key: int) -> Any:
    """``queryset[i]``: ``async_first()`` of the queryset skipped to ``i``."""
    single = queryset.clone()
    single._empty = False
    single = single.skip((single._skip or 0) + key)
    found = await_only(single.async_first())
    if found is None:
        raise IndexError("no such item for Cursor instance")
    return found


def _fetch_reference(_: None, ref_cls: Any, dbref: Any) -> Any:
    """A reference read on attribute access: ``await AsyncReferenceProxy.async_fetch()``."""
    if isinstance(dbref, AsyncReferenceProxy):
        return await_only(dbref.async_fetch())
    return await_only(AsyncReferenceProxy(ref_cls, dbref).async_fetch())


# (owner, sync name) -> fn(receiver, *args, **kwargs) awaiting the twin (the receiver is
# None for the reference loader, which MongoEngine calls as (ref_cls, dbref)).
ADAPTERS: dict[tuple[Owner, str], Callable[..., Any]] = {
    (Owner.QUERYSET, "__next__"): _next_document,
    (Owner.QUERYSET, "__getitem__"): _item,
    (Owner.REFERENCE_LOAD, "_lazy_load_ref"): _fetch_reference,
}
# Calls of these rows that are I/O (the others are MongoEngine's own, not counted).
IS_IO: dict[tuple[Owner, str], Callable[..., bool]] = {
    (Owner.QUERYSET, "__getitem__"): lambda key: isinstance(key, int) and key >= 0,
}
STATIC = {Owner.REFERENCE_LOAD}  # rows whose method has no receiver: (ref_cls, dbref)

_counts: Counter[Twin] = Counter()


def _targets_async(owner: Owner, receiver: Any, args: tuple[Any, ...]) -> bool:
    if not aliases.any_async():
        return False
    if owner is Owner.FILE_PROXY:
        return aliases.is_async_connection(receiver.db_alias)
    if owner is Owner.LAZY_REFERENCE:
        return is_async_class(receiver.document_type)
    if owner is Owner.REFERENCE_LOAD:
        return is_async_class(args[0])
    return targets_async(receiver)


def _generic(row: Twin) -> Callable[..., Any]:
    def call(receiver: Any, *args: Any, **kwargs: Any) -> Any:
        return await_only(getattr(receiver, row.twin_name)(*args, **kwargs))

    return call


def _dispatcher(row: Twin) -> Callable[..., Any] | None:
    key = (row.owner, row.sync_name)
    if key in NOT_DISPATCHED:
        return None
    if key in ADAPTERS:
        return ADAPTERS[key]
    if row.make is Make.SHARED:
        raise RuntimeError(
            f"twins.TWINS row {row} shares another twin: give it an adapter or a "
            "reason in native_twins.py"
        )
    return _generic(row)


def _dispatching(
    call: Callable[..., Any], row: Twin, dispatch: Callable[..., Any], receiver: Any = None
) -> Any:
    """``call`` (an unbound function, or a method already bound to ``receiver``) that
    awaits the twin instead when the test's own code calls it on an async target."""
    bound = receiver is not None or row.owner in STATIC
    is_io = IS_IO.get((row.owner, row.sync_name), lambda *args, **kwargs: True)

    @functools.wraps(call)
    def method(*args: Any, **kwargs: Any) -> Any:
        target, rest = (receiver, args) if bound else (args[0], args[1:])
        if (
            sync_semantics()
            and _targets_async(row.owner, target, rest)
            and is_io(*rest, **kwargs)
        ):
            _counts[row] += 1
            with plain_async_semantics():  # the twin runs as a coroutine would await it
                return facade_for(dispatch(target, *rest, **kwargs))
        return call(*args, **kwargs)

    method.__native_dispatch__ = row  # type: ignore[attr-defined]
    # Transparent to code that looks past the wrong-method guard for MongoEngine's own
    # method (the checked mode does): it finds that method, not the guard.
    method.__wrapped__ = getattr(call, "__wrapped__", call)  # type: ignore[attr-defined]
    return method


class _DispatchingDescriptor:
    """Any other descriptor (the engine's field-bound ``_lazy_load_ref``): what it binds
    to is wrapped on each access."""

    __native_dispatch__ = True

    def __init__(self, inner: Any, row: Twin, dispatch: Callable[..., Any]) -> None:
        self.inner, self.row, self.dispatch = inner, row, dispatch

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        bound = self.inner.__get__(obj, owner)
        return _dispatching(bound, self.row, self.dispatch, obj if obj is not None else owner)


def _wrap_attribute(cls: type, row: Twin, dispatch: Callable[..., Any]) -> None:
    value = vars(cls)[row.sync_name]
    if hasattr(getattr(value, "__func__", value), "__native_dispatch__"):
        return  # wrapped already
    if isinstance(value, classmethod):
        wrapped: Any = classmethod(_dispatching(value.__func__, row, dispatch))
    elif isinstance(value, staticmethod):
        wrapped = staticmethod(_dispatching(value.__func__, row, dispatch))
    elif inspect.isfunction(value):
        wrapped = _dispatching(value, row, dispatch)
    elif hasattr(type(value), "__get__"):
        wrapped = _DispatchingDescriptor(value, row, dispatch)
    else:  # a silent skip would leave the row undispatched: stop the run instead
        raise RuntimeError(f"cannot dispatch {cls.__name__}.{row.sync_name}: {value!r}")
    setattr(cls, row.sync_name, wrapped)


_rows_by_owner: dict[Owner, list[tuple[Twin, Callable[..., Any]]]] = {}


def _wrap_class(cls: type, owners: tuple[Owner, ...]) -> None:
    for owner in owners:
        for row, dispatch in _rows_by_owner.get(owner, ()):
            if row.sync_name in vars(cls):
                _wrap_attribute(cls, row, dispatch)


def _follow_subclasses(base: type, owners: tuple[Owner, ...]) -> None:
    """Wrap the overrides in ``base``'s subclasses, those defined later included."""

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        super(base, cls).__init_subclass__(**kwargs)
        _wrap_class(cls, owners)

    base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    pending = list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        _wrap_class(cls, owners)
        pending.extend(cls.__subclasses__())


def install() -> None:
    for row in TWINS:
        dispatch = _dispatcher(row)
        if dispatch is not None:
            _rows_by_owner.setdefault(row.owner, []).append((row, dispatch))
    roots: dict[type, tuple[Owner, ...]] = {}
    for owner in Owner:
        for cls in owner_classes(owner):
            roots[cls] = (*roots.get(cls, ()), owner)
    for cls, owners in roots.items():
        _wrap_class(cls, owners)
    for cls, owners in roots.items():
        if not any(issubclass(cls, other) and cls is not other for other in roots):
            _follow_subclasses(cls, owners)


def summary() -> str:
    dispatched = [row for row in TWINS if (row.owner, row.sync_name) not in NOT_DISPATCHED]
    total = sum(_counts.values())
    called = [row for row in dispatched if _counts[row]]
    parts = ", ".join(
        f"{row.owner.name.lower()}.{row.sync_name}->{row.twin_name} {_counts[row]}"
        for row in dispatched
    )
    undispatchable = ", ".join(f"{owner.name.lower()}.{name}" for owner, name in NOT_DISPATCHED)
    return (
        f"{SUMMARY} {total} calls ran their async_ twin, {len(called)} of "
        f"{len(dispatched)} dispatched rows used: {parts}; not dispatchable (reasons in "
        f"native_twins.py): {undispatchable}"
    )


def pytest_configure(config: Any) -> None:
    install()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(summary())
