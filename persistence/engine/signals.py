"""Async signal receivers: coroutine functions connected to MongoEngine's signals.

MongoEngine sends its signals from its sync code, which the ``async_`` operations run in
the bridge greenlet.  There a coroutine receiver is awaited (``await_only``) at the very
point a sync receiver is called, so pre-signals finish before the write and receivers run
one after the other.  Reached by a sync operation, outside the bridge, a coroutine
receiver cannot be awaited: the send raises ``RuntimeError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from blinker import Signal

from .bridge import await_only, in_bridge

__all__ = ["install_async_receivers"]


def _name(receiver: Callable[..., Any]) -> str:
    module = getattr(receiver, "__module__", None) or "?"
    return f"{module}.{getattr(receiver, '__qualname__', repr(receiver))}"


def _awaiting(
    signal_name: str,
) -> Callable[[Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]]:
    def wrap(receiver: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not in_bridge():
                raise RuntimeError(
                    f"the {signal_name} receiver {_name(receiver)} is a coroutine function: "
                    "it can only run during an async_ operation (await doc.async_save(), "
                    "await doc.async_delete(), ...), not during a sync one"
                )
            return await_only(receiver(*args, **kwargs))

        return call

    return wrap


def install_async_receivers(signals: list[Signal]) -> None:
    """Make each signal await coroutine receivers when sent inside the bridge."""
    for signal in signals:
        wrapper = _awaiting(getattr(signal, "name", "signal"))

        def send(
            sender: Any = None, /, *, _signal: Signal = signal, _wrap: Any = wrapper, **kwargs: Any
        ) -> list[tuple[Callable[..., Any], Any]]:
            kwargs.setdefault("_async_wrapper", _wrap)
            return Signal.send(_signal, sender, **kwargs)

        signal.send = send  # type: ignore[method-assign]
