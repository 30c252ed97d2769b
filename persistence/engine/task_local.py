"""Task-local storage standing in for MongoEngine's ``threading.local`` state.

MongoEngine keeps its ``no_dereference`` counters in thread-locals; under asyncio every
task shares the thread, so one task's context manager would leak into the others.  A
:class:`TaskLocal` keeps one namespace per asyncio task (and per thread outside a loop),
carried in a ``ContextVar`` so the bridge greenlets of a task see the task's values.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["TaskLocal"]


def _owner() -> tuple[int, int]:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return threading.get_ident(), id(task)


class TaskLocal:
    """Attribute namespace private to the current asyncio task (or thread).

    ``defaults`` maps attribute names to factories called for each new namespace.  A
    namespace inherited through a copied Context (a child task, ``asyncio.to_thread``)
    is copied on first use, so the child never mutates its parent's values.
    """

    def __init__(self, **defaults: Callable[[], Any]) -> None:
        object.__setattr__(self, "_defaults", defaults)
        object.__setattr__(self, "_var", ContextVar(f"task_local_{id(self)}"))

    def _namespace(self) -> dict[str, Any]:
        var: ContextVar[tuple[tuple[int, int], dict[str, Any]]] = self._var
        owner = _owner()
        current = var.get(None)
        if current is not None and current[0] == owner:
            return current[1]
        if current is None:
            namespace = {name: make() for name, make in self._defaults.items()}
        else:
            namespace = {
                name: value.copy() if hasattr(value, "copy") else value
                for name, value in current[1].items()
            }
        var.set((owner, namespace))
        return namespace

    def namespace(self) -> dict[str, Any]:
        """The current task's namespace (the dict its attributes live in)."""
        return self._namespace()

    @contextmanager
    def borrowed(self, namespace: dict[str, Any]) -> Iterator[None]:
        """Read and write ``namespace`` (another task's, from :meth:`namespace`) as the
        current task's while the block runs: to undo, from wherever it runs, what a
        task did to its own values."""
        var: ContextVar[tuple[tuple[int, int], dict[str, Any]]] = self._var
        token = var.set((_owner(), namespace))
        try:
            yield
        finally:
            var.reset(token)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._namespace()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._namespace()[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._namespace()[name]
        except KeyError:
            raise AttributeError(name) from None
