"""What a file store's ``put`` takes, checked the same way by every store before it
stores anything: bytes, or an async iterable of bytes (each part checked as it comes)."""

from __future__ import annotations

from collections.abc import AsyncIterable

__all__ = ["BYTES_LIKE", "checked_content", "checked_part"]

BYTES_LIKE = (bytes, bytearray, memoryview)


def checked_content(data: object) -> bytes | AsyncIterable[object]:
    """``data`` as bytes, or the async iterable it is; ``TypeError`` for anything else
    (a str, a sync iterable, a file object), before any write."""
    if isinstance(data, BYTES_LIKE):
        return bytes(data)
    if isinstance(data, AsyncIterable):
        return data
    raise TypeError(
        f"put() takes the file's content as bytes or an async iterable of bytes, not "
        f"{type(data).__name__}: encode text first, stream a file with an async generator"
    )


def checked_part(part: object) -> bytes:
    """One part of a streamed put as bytes; ``TypeError`` for anything else (the put
    then removes what it wrote)."""
    if isinstance(part, BYTES_LIKE):
        return bytes(part)
    raise TypeError(
        f"a streamed put's parts must be bytes, got {type(part).__name__}: "
        "encode text before yielding it"
    )
