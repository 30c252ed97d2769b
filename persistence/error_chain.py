"""Walking an exception's chain of causes (MongoEngine re-raises PyMongo's errors)."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["error_chain"]


def error_chain(exc: BaseException | None, depth: int = 6) -> Iterator[BaseException]:
    """``exc``, then what it was raised from or during, at most ``depth`` links."""
    for _ in range(depth):
        if exc is None:
            return
        yield exc
        exc = exc.__cause__ or exc.__context__
