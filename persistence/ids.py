"""Entity ids: 24 hex characters, compatible with BSON ObjectIds, made without bson."""

from __future__ import annotations

import itertools
import os
import re
import threading
import time

__all__ = ["is_valid_id", "new_id"]

_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_PROCESS = os.urandom(5)
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_lock = threading.Lock()


def new_id() -> str:
    """A new id: 4-byte big-endian seconds, 5 process bytes, a 3-byte counter."""
    with _lock:
        count = next(_counter) & 0xFFFFFF
    return (int(time.time()).to_bytes(4, "big") + _PROCESS + count.to_bytes(3, "big")).hex()


def is_valid_id(value: object) -> bool:
    """True for a 24-character lowercase hex string."""
    return isinstance(value, str) and bool(_HEX24.match(value))
