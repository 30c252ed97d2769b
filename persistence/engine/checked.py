"""Checked mode: every fast path also runs MongoEngine's own path and fails on a difference.

Set ``PERSISTENCE_CHECKED=1`` in the environment before the engine is imported.  The
switch is read once, here, at import; with it off the fast paths are the plain functions
(each module binds its checked variant at import only when :data:`ENABLED`), so checked
mode costs nothing otherwise.

With it on, each fast path runs as usual and then MongoEngine's general path runs on the
same input, in *reference mode* (a context variable under which every fast path of the
engine steps aside for MongoEngine's own code), and the two outcomes are compared: the
value returned (documents by their whole state: ``_data`` values, their types and order,
nested ``BaseList``/``BaseDict``/``EmbeddedDocumentList`` classes and bindings,
``_changed_fields``, ``_created``, ``_initialised``, dynamic fields, the instance
``__dict__``), the exception raised (type and message), the signals delivered to
receivers, and for writes the commands sent.  A difference raises
:class:`FastPathDifference` naming the fast path, the class and the first difference,
and is also kept in :func:`differences` (so a difference swallowed by a caller's
``except`` is still reported; the project's test plugin fails the test).

Writes are never sent twice: the fast path's calls to PyMongo's collection are recorded
(their arguments as the BSON that is sent, the write and read concerns, the answers);
MongoEngine's own method then runs in the bridge on a copy of the document (or a clone
of the queryset) whose collection is a *replaying* facade: each write it makes is
compared with the recorded one and answered with the recorded answer, reads go to the
server.  Reads (``get``, ``first``, ``count``) run MongoEngine's method against the
server a second time (outside a transaction a difference is re-checked once, in case a
concurrent writer changed the data between the two reads).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import functools
import math
import os
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final

import bson
from bson import DBRef, ObjectId
from bson.son import SON

from . import compat

__all__ = [
    "DECLINED",
    "ENABLED",
    "FastPathDifference",
    "clear_differences",
    "differences",
    "enabled",
    "in_reference",
    "reference",
]

#: True when ``PERSISTENCE_CHECKED`` was set (to anything but ``""``/``"0"``) at import.
ENABLED: Final = os.environ.get("PERSISTENCE_CHECKED", "") not in ("", "0")

#: What a fast path's inner function returns when it leaves the work to MongoEngine.
DECLINED: Final[Any] = type("Declined", (), {"__repr__": lambda self: "DECLINED"})()


def enabled() -> bool:
    """True when checked mode is on (``PERSISTENCE_CHECKED=1`` at import)."""
    return ENABLED


class FastPathDifference(AssertionError):
    """A fast path gave something else than MongoEngine's own path on the same input."""

    def __init__(
        self, fast_path: str, cls: Any, difference: str, against: str = "MongoEngine's own path"
    ) -> None:
        name = cls if isinstance(cls, str) else getattr(cls, "__qualname__", None)
        name = name or type(cls).__qualname__
        super().__init__(
            f"checked mode: the fast path {fast_path} differs from {against} "
            f"for {name}: {difference}"
        )
        self.fast_path = fast_path
        self.cls = cls
        self.difference = difference


_differences: list[str] = []
_compared: collections.Counter[str] = collections.Counter()


def compared() -> dict[str, int]:
    """How many times each fast path was compared with MongoEngine's (this process)."""
    return dict(_compared)


def note(fast_path: str) -> None:
    """Count one comparison of ``fast_path``."""
    _compared[fast_path] += 1


def differences() -> list[str]:
    """Every difference found since the last :func:`clear_differences` (messages)."""
    return list(_differences)


def clear_differences() -> None:
    """Forget the differences found so far."""
    _differences.clear()


def forget_last() -> None:
    """Forget the last difference found (it was looked at again and went away)."""
    if _differences:
        _differences.pop()


def report(
    fast_path: str, cls: Any, difference: str, against: str = "MongoEngine's own path"
) -> FastPathDifference:
    """Record a difference and return the exception to raise."""
    error = FastPathDifference(fast_path, cls, difference, against)
    _differences.append(str(error))
    return error


# -- reference mode ----------------------------------------------------------------------

_REFERENCE: ContextVar[bool] = ContextVar("persistence_checked_reference", default=False)


def in_reference() -> bool:
    """True while MongoEngine's own path runs for a comparison (fast paths step aside)."""
    return _REFERENCE.get()


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Run the block as MongoEngine would, with every fast path stepping aside."""
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


# -- what an operation did ----------------------------------------------------------------

_SIGNALS: ContextVar[list[tuple[str, str]] | None] = ContextVar(
    "persistence_checked_signals", default=None
)
_GENERAL: ContextVar[list[str] | None] = ContextVar("persistence_checked_general", default=None)


class Outcome:
    """What one path did: its value or exception, and the signals it delivered."""

    __slots__ = ("error", "signals", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.signals: list[tuple[str, str]] = []

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """``fn(*args, **kwargs)``'s outcome (an ``Exception`` is kept, not raised)."""
    outcome = Outcome()
    with _hearing(outcome.signals):
        try:
            outcome.value = fn(*args, **kwargs)
        except Exception as error:
            outcome.error = error
    return outcome


async def run_async(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Outcome:
    """The outcome of awaiting ``fn(*args, **kwargs)``."""
    outcome = Outcome()
    with _hearing(outcome.signals):
        try:
            outcome.value = await fn(*args, **kwargs)
        except Exception as error:
            outcome.error = error
    return outcome


@contextlib.contextmanager
def _hearing(heard: list[tuple[str, str]]) -> Iterator[None]:
    """Record the signals delivered in the block (an enclosing fast path's block hears
    them too; a reference run's are its own)."""
    outer = _SIGNALS.get()
    token = _SIGNALS.set(heard)
    try:
        yield
    finally:
        _SIGNALS.reset(token)
        if outer is not None and not _REFERENCE.get():
            outer.extend(heard)


def install_signal_recorders(signals: list[Any]) -> None:
    """Record, per operation, which signals reached a receiver (name and sender)."""
    for signal in signals:
        send = signal.send

        def recording(
            sender: Any = None, /, *, _signal: Any = signal, _send: Any = send, **kwargs: Any
        ) -> Any:
            heard = _SIGNALS.get()
            if heard is not None and _signal.receivers and _signal.has_receivers_for(sender):
                name = getattr(sender, "__qualname__", type(sender).__qualname__)
                heard.append((_signal.name, name))
            return _send(sender, **kwargs)

        signal.send = recording


def mark_general(name: str) -> None:
    """Called by the bridge's twins in checked mode: MongoEngine's ``name`` ran."""
    marks = _GENERAL.get()
    if marks is not None:
        marks.append(name)


@contextlib.contextmanager
def general_marks() -> Iterator[list[str]]:
    """Collect the names of the sync methods run in the bridge during the block."""
    outer = _GENERAL.get()
    marks: list[str] = []
    token = _GENERAL.set(marks)
    try:
        yield marks
    finally:
        _GENERAL.reset(token)
        if outer is not None:
            outer.extend(marks)


# -- snapshots: everything observable, in comparable form -------------------------------


def _owner_key(instance: Any) -> Any:
    """Which document a container or embedded document is bound to (by its ``_data``)."""
    if instance is None:
        return None
    try:
        return id(compat.data(instance))
    except ReferenceError:
        return "<collected>"
    except AttributeError:
        return f"<{type(instance).__qualname__}>"


_UNSET = "<not set>"
_INITIALISED, _CREATED, _CHANGED, _DYNAMIC, _DATA = compat.DOCUMENT_STATE


class _Snapshot:
    """Builds the comparable form of values, naming documents by their path."""

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}

    def binding(self, instance: Any) -> Any:
        key = _owner_key(instance)
        if isinstance(key, int):
            return self.paths.get(key, "<another document>")
        return key

    def document(self, doc: Any, path: str) -> Any:
        from mongoengine.document import Document

        data = compat.data(doc)
        if id(data) in self.paths:
            return ("document-again", type(doc).__qualname__, self.paths[id(data)])
        self.paths[id(data)] = path
        state: list[Any] = [("class", type(doc).__qualname__)]
        items = [(k, self.value(v, f"{path}.{k}", inside=True)) for k, v in data.items()]
        state.append((_DATA, items))
        changed = getattr(doc, _CHANGED, _UNSET)
        state.append((_CHANGED, changed if changed is _UNSET else list(changed)))
        state.append((_CREATED, getattr(doc, _CREATED, _UNSET)))
        state.append((_INITIALISED, getattr(doc, _INITIALISED, _UNSET)))
        dynamic = getattr(doc, _DYNAMIC, _UNSET)
        state.append((_DYNAMIC, dynamic if dynamic is _UNSET else sorted(dynamic)))
        own = getattr(doc, "__dict__", {})
        state.append(("__dict__", sorted((k, self.attribute(v)) for k, v in own.items())))
        if not isinstance(doc, Document):
            state.append((compat.EMBEDDED_OWNER, self.binding(compat.embedded_owner_or_none(doc))))
        return ("document", state)

    def attribute(self, value: Any) -> Any:
        if isinstance(value, functools.partial):
            field = value.keywords.get("field")
            return ("partial", getattr(value.func, "__name__", "?"), getattr(field, "name", None))
        kind = type(value)
        if kind in _ATOMS:
            return (kind.__name__, value)
        return ("object", kind.__qualname__)

    def value(self, value: Any, path: str, inside: bool = False) -> Any:
        """``inside``: held by a document (a Document there is a reference to it)."""
        from mongoengine.base.datastructures import BaseDict, BaseList, LazyReference
        from mongoengine.base.document import BaseDocument
        from mongoengine.document import Document

        from .references import AsyncReferenceProxy

        kind = type(value)
        if kind in _ATOMS:
            if kind is float and math.isnan(value):
                return ("float", "nan")
            return (kind.__name__, value)
        if isinstance(value, BaseDocument):
            if inside and isinstance(value, Document):
                return ("reference to a document", kind.__qualname__, value.pk)
            return self.document(value, path)
        if isinstance(value, AsyncReferenceProxy):
            return ("proxy", value.document_type.__qualname__, value.collection, value.id)
        if isinstance(value, LazyReference):
            return ("lazy", value.document_type.__qualname__, value.collection, value.id)
        if isinstance(value, DBRef):
            return (kind.__qualname__, value.collection, value.id, value.database)
        if isinstance(value, (BaseList, BaseDict)):
            items = self._items(value, path, inside)
            bound = (
                self.binding(compat.embedded_owner_or_none(value)),
                compat.container_name_or_none(value),
            )
            return ("container", kind.__qualname__, bound, items)
        if isinstance(value, (list, tuple, dict)):
            return ("container", kind.__qualname__, self._items(value, path, inside))
        if isinstance(value, weakref.ProxyType):
            return ("weakproxy", self.binding(value))
        return ("other", kind.__qualname__, _Other(value))

    def _items(self, value: Any, path: str, inside: bool) -> Any:
        if isinstance(value, dict):
            return [(k, self.value(v, f"{path}.{k}", inside)) for k, v in value.items()]
        return [self.value(v, f"{path}.{i}", inside) for i, v in enumerate(value)]


_ATOMS = frozenset(
    {type(None), bool, int, float, str, bytes, ObjectId, datetime.datetime, datetime.date,
     bson.Int64, bson.Decimal128, bson.Timestamp, bson.Regex, bson.Code, bson.MinKey,
     bson.MaxKey, bson.Binary}
)  # fmt: skip


class _Other:
    """An arbitrary value: equal when ``==`` says so (identity for plain objects)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Other):
            return False
        if self.value is other.value:
            return True
        try:
            if self.value == other.value:
                return True
            # NaN (float, Decimal) is unequal to itself: the same when both are NaN
            return bool(self.value != self.value and other.value != other.value)
        except Exception:
            return False

    def __repr__(self) -> str:
        return repr(self.value)

    __hash__ = None  # type: ignore[assignment]


_NO_SON: Any = object()  # the stored document is not known
_LEFT_OUT: Any = object()  # the stored document has no such key


def settle_defaults(fast: Any, ref: Any, son: Any = _NO_SON) -> None:
    """Give ``ref`` the values ``fast`` got from callable defaults (``default=datetime.now``,
    ``uuid4``...), which differ between any two calls: for each pair of documents of the
    same class found at the same place, a field whose default is callable and whose value
    the stored document ``son`` leaves out or holds as null (any such field when ``son`` is
    not known) takes the fast path's value, when both values have the same plain type.
    Everything else is compared."""
    from mongoengine.base.document import BaseDocument
    from mongoengine.document import EmbeddedDocument

    if isinstance(fast, BaseDocument) and type(fast) is type(ref):
        for name, field in compat.fields(type(fast)).items():
            a, b = compat.data(fast).get(name), compat.data(ref).get(name)
            stored = son.get(field.db_field, _LEFT_OUT) if isinstance(son, dict) else _NO_SON
            defaulted = stored is _NO_SON or stored is _LEFT_OUT or stored is None
            plain = type(a) is type(b) and not isinstance(a, (list, dict, EmbeddedDocument))
            if defaulted and plain and callable(field.default) and a != b:
                compat.data(ref)[name] = a
            else:
                settle_defaults(a, b, _NO_SON if stored is _LEFT_OUT else stored)
    elif isinstance(fast, (list, tuple)) and isinstance(ref, (list, tuple)):
        sons = son if isinstance(son, (list, tuple)) and len(son) == len(fast) else None
        for index, (a, b) in enumerate(zip(fast, ref, strict=False)):
            settle_defaults(a, b, _NO_SON if sons is None else sons[index])
    elif isinstance(fast, dict) and isinstance(ref, dict):
        for key, a in fast.items():
            if key in ref:
                sub = son.get(key, _NO_SON) if isinstance(son, dict) else _NO_SON
                settle_defaults(a, ref[key], sub)


def snapshot(value: Any) -> Any:
    """The comparable form of ``value`` (documents by their whole state)."""
    return _Snapshot().value(value, "")


def first_difference(fast: Any, ref: Any, path: str = "", label: str = "MongoEngine") -> str | None:
    """Where two snapshots first differ (a readable path and both sides), or None;
    ``label`` names the reference side."""
    if fast == ref:
        return None
    if isinstance(fast, list) and isinstance(ref, list) and len(fast) == len(ref):
        for index, (a, b) in enumerate(zip(fast, ref, strict=True)):
            if a != b:
                entry = _entry(a) and _entry(b) and a[0] == b[0]
                return first_difference(a, b, path if entry else _join(path, str(index)), label)
    if isinstance(fast, tuple) and isinstance(ref, tuple) and len(fast) == len(ref) >= 2:
        if _entry(fast) and fast[0] == ref[0]:  # (key, value): go into the value
            inner = path if fast[0] == "document" else _join(path, fast[0])
            return first_difference(fast[1], ref[1], inner, label)
        last = fast[-1], ref[-1]
        if fast[:-1] == ref[:-1] and all(isinstance(v, list) for v in last):  # a container
            return first_difference(last[0], last[1], path, label)
    return f"{path or 'value'}: fast path {_short(fast)}, {label} {_short(ref)}"


def _entry(value: Any) -> bool:
    """A ``(key, snapshot)`` pair: a document's ``_data`` item or state attribute (a
    leaf such as ``("int", 3)`` is not one)."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (list, tuple))
    )


def _join(path: str, label: str) -> str:
    return f"{path}/{label}" if path else label


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def compare(
    fast_path: str,
    cls: Any,
    fast: Outcome,
    ref: Outcome,
    against: tuple[str, str] = ("MongoEngine's own path", "MongoEngine"),
) -> None:
    """Raise :class:`FastPathDifference` unless the two outcomes are the same
    (``against``: how the reference path is named in the message, whole and short)."""
    _compared[fast_path] += 1
    whole, short = against
    if (fast.error is None) != (ref.error is None):
        what = f"fast path {_outcome(fast)}, {short} {_outcome(ref)}"
        raise report(fast_path, cls, what, whole)
    if fast.error is not None and ref.error is not None:
        a = (type(fast.error).__qualname__, str(fast.error))
        b = (type(ref.error).__qualname__, str(ref.error))
        if a != b:
            raise report(fast_path, cls, f"fast path raised {a}, {short} raised {b}", whole)
    else:
        found = first_difference(snapshot(fast.value), snapshot(ref.value), "", short)
        if found is not None:
            raise report(fast_path, cls, found, whole)
    if fast.signals != ref.signals:
        what = f"signals delivered: fast path {fast.signals}, {short} {ref.signals}"
        raise report(fast_path, cls, what, whole)


def _outcome(outcome: Outcome) -> str:
    if outcome.error is not None:
        return f"raised {type(outcome.error).__qualname__}: {outcome.error}"
    return f"returned {_short(outcome.value)}"


def compare_states(fast_path: str, cls: Any, fast: Any, ref: Any, what: str) -> None:
    """Raise unless two objects (documents after a write) have the same state."""
    found = first_difference(snapshot(fast), snapshot(ref))
    if found is not None:
        raise report(fast_path, cls, f"{what}: {found}")


# -- copies of documents, for MongoEngine's run of a write -------------------------------


def clone_document(doc: Any) -> Any:
    """A copy of ``doc`` in the same state (containers and embedded documents copied
    and bound to the copy; referenced documents and proxies shared)."""
    return _Cloner().document(doc)


_SLOTS = compat.DOCUMENT_STATE


class _Cloner:
    """Copies a document graph once: an object met twice (an embedded document held in
    two places, a dynamic document's value also in its ``__dict__``) is copied once."""

    def __init__(self) -> None:
        self.copies: dict[int, Any] = {}  # id(original _data) -> copy
        self.made: dict[int, Any] = {}  # id(original object) -> its copy

    def document(self, doc: Any) -> Any:
        from mongoengine.document import EmbeddedDocument

        if id(doc) in self.made:
            return self.made[id(doc)]
        cls: Any = type(doc)
        new = cls.__new__(cls)
        self.made[id(doc)] = new
        self.copies[id(compat.data(doc))] = new
        for name in _SLOTS:  # only those the original has (an unset one means something)
            try:
                value = getattr(doc, name)
            except AttributeError:
                continue
            if name == _CHANGED:
                value = list(value)
            elif name == _DYNAMIC:
                value = SON(value)
            elif name == _DATA:
                value = {}
            compat.state_setter(name)(new, value)
        if isinstance(doc, EmbeddedDocument):
            owner = compat.embedded_owner_or_none(doc)
            set_owner = compat.state_setter(compat.EMBEDDED_OWNER)
            set_owner(new, None if owner is None else self.bound(owner))
        compat.data(new).update((k, self.value(v)) for k, v in compat.data(doc).items())
        for key, value in doc.__dict__.items():
            bound_to = getattr(value, "func", None)
            if isinstance(value, functools.partial) and getattr(bound_to, "__self__", 0) is doc:
                rebound = bound_to.__func__.__get__(new)  # type: ignore[union-attr]
                value = functools.partial(rebound, *value.args, **value.keywords)
            new.__dict__[key] = self.made.get(id(value), value)  # a copied value: its copy
        return new

    def bound(self, owner: Any) -> Any:
        key = _owner_key(owner)
        copied = self.copies.get(key) if isinstance(key, int) else None
        return weakref.proxy(copied) if copied is not None else owner

    def value(self, value: Any) -> Any:
        from mongoengine.base.datastructures import BaseDict, BaseList
        from mongoengine.document import EmbeddedDocument

        if isinstance(value, EmbeddedDocument):
            return self.document(value)
        if id(value) in self.made:
            return self.made[id(value)]
        if isinstance(value, (BaseList, BaseDict)):
            owner = compat.embedded_owner_or_none(value)
            container: Any = type(value)
            new = container.__new__(container)
            self.made[id(value)] = new
            items = (
                {k: self.value(v) for k, v in value.items()}
                if isinstance(value, BaseDict)
                else [self.value(v) for v in value]
            )
            (dict if isinstance(value, dict) else list).__init__(new, items)
            bound_to = None if owner is None else self.bound(owner)
            compat.set_container_owner(new, bound_to, compat.container_name_or_none(value))
            if compat.has_dereferenced(value):
                compat.set_dereferenced(new, compat.dereferenced(value))
            return new
        kind = type(value)
        if kind is list or kind is dict or kind is SON:
            copied: Any = kind()
            self.made[id(value)] = copied
            if kind is list:
                copied.extend(self.value(v) for v in value)
            else:
                for k, v in value.items():
                    copied[k] = self.value(v)
            return copied
        return value


# -- recording the fast path's writes; replaying them to MongoEngine ----------------------

#: Collection methods whose calls are compared and replayed (never sent twice).
REPLAYED = frozenset(
    {"insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
     "delete_many", "find_one_and_replace", "find_one_and_update", "find_one_and_delete",
     "bulk_write", "aggregate"}
)  # fmt: skip

_RECORDS: ContextVar[list[Call] | None] = ContextVar("persistence_checked_records", default=None)


class Call:
    """One collection call: its name, arguments as sent, concerns, and answer."""

    __slots__ = ("answer", "args", "error", "kwargs", "name", "options")

    def __init__(self, collection: Any, name: str, args: Any, kwargs: dict[str, Any]) -> None:
        self.name = name
        options = getattr(collection, "codec_options", None)
        self.args = [_as_sent(arg, options) for arg in args]
        self.kwargs = sorted(
            (k, _as_sent(v, options)) for k, v in kwargs.items() if k != "session"
        )
        self.options = (_concern(collection, "write_concern"), _concern(collection, "read_concern"))
        self.answer: Any = None
        self.error: BaseException | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.name, self.args, self.kwargs, self.options)

    def __repr__(self) -> str:
        return f"{self.name}(args={self.args!r}, kwargs={self.kwargs!r}, concerns={self.options})"


def _concern(collection: Any, name: str) -> Any:
    concern = getattr(collection, name, None)
    document = getattr(concern, "document", None)
    return sorted(document.items()) if isinstance(document, dict) else document


def _as_sent(value: Any, options: Any) -> Any:
    """A document as the BSON sent (key order and types), lists element by element."""
    if isinstance(value, dict):
        try:
            if options is not None and isinstance(options, bson.CodecOptions):
                return ("bson", bson.encode(value, codec_options=options))
            return ("bson", bson.encode(value))
        except Exception:
            return ("document", snapshot(value))
    if isinstance(value, (list, tuple)):
        return [_as_sent(item, options) for item in value]
    return snapshot(value)


@contextlib.contextmanager
def recording() -> Iterator[list[Call]]:
    """Record the calls fast paths make to recording collections during the block
    (a block inside another one also hands its calls to the outer one)."""
    outer = _RECORDS.get()
    calls: list[Call] = []
    token = _RECORDS.set(calls)
    try:
        yield calls
    finally:
        _RECORDS.reset(token)
        if outer is not None:
            outer.extend(calls)


def recorded(collection: Any) -> Any:
    """``collection`` (PyMongo's async collection) with its writes recorded while a
    :func:`recording` block is open."""
    return _RecordingCollection(collection) if _RECORDS.get() is not None else collection


class _RecordingCollection:
    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name == "with_options":
            return lambda *a, **k: _RecordingCollection(attr(*a, **k))
        if name not in REPLAYED:
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            entry = Call(self._target, name, args, kwargs)
            calls = _RECORDS.get()
            if calls is not None:
                calls.append(entry)
            try:
                entry.answer = await attr(*args, **kwargs)
            except Exception as error:
                entry.error = error
                raise
            return entry.answer

        return call


class ReplayMismatch(Exception):
    """MongoEngine's own path sent another write than the fast path did."""


class Replay:
    """The recorded calls, handed out in order to MongoEngine's run."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = list(calls)
        self.used = 0
        self.mismatch: str | None = None

    def next(self, made: Call) -> Call:
        if self.used >= len(self.calls):
            self.mismatch = f"MongoEngine sends {made!r}, the fast path sent nothing more"
            raise ReplayMismatch(self.mismatch)
        expected = self.calls[self.used]
        self.used += 1
        if expected.key() != made.key():
            self.mismatch = f"the fast path sent {expected!r}, MongoEngine sends {made!r}"
            raise ReplayMismatch(self.mismatch)
        return expected

    def leftover(self) -> str | None:
        if self.mismatch is not None:
            return self.mismatch
        if self.used < len(self.calls):
            return f"the fast path also sent {self.calls[self.used:]!r}, MongoEngine does not"
        return None


class ReplayingCollection:
    """A blocking collection for MongoEngine's run: writes compared with the recorded
    ones and answered with their answers, everything else forwarded to ``target``."""

    def __init__(self, target: Any, replay: Replay) -> None:
        self._target = target
        self._replay = replay

    @property
    def async_target(self) -> Any:
        return getattr(self._target, "async_target", self._target)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name == "with_options":
            return lambda *a, **k: ReplayingCollection(attr(*a, **k), self._replay)
        if name not in REPLAYED:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            made = Call(self._target, name, args, kwargs)
            expected = self._replay.next(made)
            if expected.error is not None:
                raise expected.error  # the very error the fast path met
            _as_pymongo_would(name, args, expected.answer)
            return expected.answer

        return call


def _as_pymongo_would(name: str, args: tuple[Any, ...], answer: Any) -> None:
    """PyMongo gives inserted documents their ``_id``: so does the replay."""
    if name == "insert_one" and args and isinstance(args[0], dict) and "_id" not in args[0]:
        args[0]["_id"] = answer.inserted_id
    elif name == "insert_many" and args:
        for doc, inserted in zip(args[0], answer.inserted_ids, strict=False):
            if isinstance(doc, dict) and "_id" not in doc:
                doc["_id"] = inserted
