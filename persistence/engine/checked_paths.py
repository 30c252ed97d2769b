"""Checked variants of the async fast paths (reads, writes, iteration).

Used only in checked mode (:mod:`.checked`): each module binds these variants at import
when ``PERSISTENCE_CHECKED=1``.  A variant runs the fast path, then MongoEngine's own
method in the bridge in reference mode, and compares (see :mod:`.checked`).  When the
fast path handed the work to MongoEngine's method itself (the bridge ran it), there is
nothing to compare and nothing runs twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mongoengine.document import Document

from . import checked, compat
from .bridge import greenlet_spawn
from .guard import check_async_target
from .plain_classes import init_receivers
from .query_counter import uncounted

__all__ = [
    "checked_convert",
    "checked_document_write",
    "checked_queryset_write",
    "checked_read",
]

Twin = Callable[..., Any]


# -- reads --------------------------------------------------------------------------------


def checked_read(fast_path: str, sync_name: str, twin: Twin) -> Twin:
    """``twin`` (a native queryset read) compared with MongoEngine's ``sync_name``,
    which reads the server again; a difference is looked at twice (a concurrent writer
    may have changed the data between the two reads)."""

    async def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, f"async_{sync_name}")  # a wrong target: nothing to compare
        if init_receivers():  # loading would run receivers twice: not compared
            return await twin(self, *args, **kwargs)
        for attempt in (1, 2):
            with checked.general_marks() as marks:
                fast = await checked.run_async(twin, self, *args, **kwargs)
            if marks:  # MongoEngine's own method ran in the bridge: nothing to compare
                return fast.unwrap()
            ref = await greenlet_spawn(_reference_call, self, sync_name, args, kwargs)
            checked.settle_defaults(fast.value, ref.value)  # loaded twice: defaults differ
            try:
                checked.compare(fast_path, compat.document(self), fast, ref)
            except checked.FastPathDifference:
                if attempt == 2:
                    raise
                checked.forget_last()
                continue
            return fast.unwrap()
        raise AssertionError("unreachable")

    read.__name__ = read.__qualname__ = getattr(twin, "__name__", sync_name)
    read.__doc__ = twin.__doc__
    read.__wrapped__ = twin  # type: ignore[attr-defined]
    return read


def _reference_call(target: Any, name: str, args: Any, kwargs: Any) -> checked.Outcome:
    with checked.reference(), uncounted():
        return checked.run(getattr(target, name), *args, **kwargs)


# -- writes -------------------------------------------------------------------------------


def _copies(value: Any) -> Any:
    """Documents (alone, or in a list or tuple) copied for MongoEngine's run."""
    if isinstance(value, Document):
        return checked.clone_document(value)
    if isinstance(value, list):
        return [_copies(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copies(v) for v in value)
    return value


async def _write(
    fast_path: str,
    sync_name: str,
    twin: Twin,
    target: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    reference_target: Any,
    reference_args: tuple[Any, ...],
    attach: Callable[[Any, checked.Replay], Callable[[], None]],
    cls: Any,
) -> Any:
    with checked.general_marks() as marks, checked.recording() as calls:
        fast = await checked.run_async(twin, target, *args, **kwargs)
    if marks:  # MongoEngine's own method ran in the bridge: nothing to compare
        return fast.unwrap()
    replay = checked.Replay(calls)

    def reference_run() -> checked.Outcome:
        with checked.reference(), uncounted():
            detach = attach(reference_target, replay)
            try:
                return checked.run(getattr(reference_target, sync_name), *reference_args, **kwargs)
            finally:
                detach()

    ref = await greenlet_spawn(reference_run)
    leftover = replay.leftover()
    if leftover is not None:
        raise checked.report(fast_path, cls, f"writes: {leftover}")
    checked.compare(fast_path, cls, fast, ref)
    fast_objects: tuple[Any, ...] = args
    ref_objects: tuple[Any, ...] = reference_args
    if isinstance(target, Document):
        fast_objects, ref_objects = (target, *args), (reference_target, *reference_args)
    checked.compare_states(fast_path, cls, fast_objects, ref_objects, "after the write")
    return fast.unwrap()


def _attach_document(document: Any, replay: checked.Replay) -> Callable[[], None]:
    """Give the copy of a document a collection that replays the recorded writes."""
    real = compat.get_collection(type(document))
    compat.override_get_collection(document, lambda: checked.ReplayingCollection(real, replay))

    def detach() -> None:
        compat.override_get_collection(document, None)

    return detach


def checked_document_write(fast_path: str, sync_name: str, twin: Twin) -> Twin:
    """``twin`` (a native Document write) compared with MongoEngine's ``sync_name`` run
    on a copy of the document whose collection replays the fast path's writes."""

    async def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, f"async_{sync_name}")  # a wrong target: nothing to compare
        if checked.in_reference():
            return await twin(self, *args, **kwargs)
        clone = checked.clone_document(self)
        return await _write(
            fast_path, sync_name, twin, self, args, kwargs, clone, args, _attach_document,
            type(self),
        )  # fmt: skip

    write.__name__ = write.__qualname__ = getattr(twin, "__name__", sync_name)
    write.__doc__ = twin.__doc__
    write.__wrapped__ = twin  # type: ignore[attr-defined]
    return write


def _attach_queryset(queryset: Any, replay: checked.Replay) -> Callable[[], None]:
    real = compat.collection_obj(queryset)
    compat.set_collection_obj(queryset, checked.ReplayingCollection(real, replay))
    compat.set_cursor_obj(queryset, None)

    def detach() -> None:
        compat.set_collection_obj(queryset, real)

    return detach


def checked_queryset_write(fast_path: str, sync_name: str, twin: Twin) -> Twin:
    """``twin`` (a native queryset write) compared with MongoEngine's ``sync_name`` on a
    clone of the queryset whose collection replays the fast path's writes (documents
    among the arguments are copied first)."""

    async def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_async_target(self, f"async_{sync_name}")  # a wrong target: nothing to compare
        if checked.in_reference():
            return await twin(self, *args, **kwargs)
        with checked.reference():
            clone = self.clone()
        return await _write(
            fast_path, sync_name, twin, self, args, kwargs, clone, _copies(args),
            _attach_queryset, compat.document(self),
        )  # fmt: skip

    write.__name__ = write.__qualname__ = getattr(twin, "__name__", sync_name)
    write.__doc__ = twin.__doc__
    write.__wrapped__ = twin  # type: ignore[attr-defined]
    return write


# -- iteration ------------------------------------------------------------------------------


def checked_convert(queryset: Any, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` (raw document -> what iteration yields) compared, per document, with
    MongoEngine's ``QuerySet.__next__`` over the same raw document."""
    with checked.reference():
        twin = queryset.clone()
    step = type(twin).__next__
    step = getattr(step, "__wrapped__", step)  # past the wrong-method guard

    def next_of(raw: Any) -> Any:
        compat.set_cursor_obj(twin, iter([raw]))
        return step(twin)

    def converted(raw: Any) -> Any:
        if init_receivers():  # loading would run receivers twice: not compared
            return convert(raw)
        original = copy.deepcopy(raw)
        fast = checked.run(convert, raw)
        with checked.reference():
            ref = checked.run(next_of, original)
        checked.settle_defaults(fast.value, ref.value, raw)
        checked.compare("iteration (async for)", compat.document(queryset), fast, ref)
        return fast.unwrap()

    return converted
