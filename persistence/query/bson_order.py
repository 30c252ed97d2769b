"""MongoDB's order of values (BSON comparison order), for what adapters order in Python.

Types first: null (and a missing value), numbers, strings, objects, arrays, binary data,
ObjectIds, booleans, dates, timestamps, regular expressions; then values within a type:
numbers by value whatever their type (int, double, ``Decimal128``; NaN first), strings
by their UTF-8 bytes (the order of their code points), objects field by field (type,
name, value), arrays element by element, binary data by length then bytes.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
import uuid
from collections.abc import Iterable
from typing import Any

from bson import Decimal128, ObjectId, Regex, Timestamp

__all__ = ["MISSING", "bson_compare", "bson_sorted"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A field that is absent (MongoDB tells it apart from null in a few places)."""

_NUMBERS = (int, float, decimal.Decimal, Decimal128)
_BINARY = (bytes, uuid.UUID)


def _rank(value: Any) -> int:
    if value is None or value is MISSING:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, _NUMBERS):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, (list, tuple)):
        return 5
    if isinstance(value, _BINARY):
        return 6
    if isinstance(value, ObjectId):
        return 7
    if isinstance(value, (datetime.datetime, datetime.date)):
        return 9
    if isinstance(value, Timestamp):
        return 10
    if isinstance(value, (Regex, re.Pattern)):
        return 11
    return 12


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _number(value: Any) -> Any:
    return value.to_decimal() if isinstance(value, Decimal128) else value


def _binary(value: Any) -> bytes:
    return value.bytes if isinstance(value, uuid.UUID) else bytes(value)


def bson_compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as MongoDB orders ``a`` and ``b`` (see the module's docstring)."""
    rank_a, rank_b = _rank(a), _rank(b)
    if rank_a != rank_b:
        return _cmp(rank_a, rank_b)
    if rank_a == 1:
        return 0
    if rank_a == 2:
        a, b = _number(a), _number(b)
        nan_a, nan_b = a != a, b != b  # NaN sorts before every other number
        if nan_a or nan_b:
            return _cmp(not nan_a, not nan_b)
        return _cmp(a, b)
    if rank_a == 4:
        for (key_a, value_a), (key_b, value_b) in zip(a.items(), b.items(), strict=False):
            result = _cmp(_rank(value_a), _rank(value_b)) or _cmp(key_a, key_b)
            result = result or bson_compare(value_a, value_b)
            if result:
                return result
        return _cmp(len(a), len(b))
    if rank_a == 5:
        for value_a, value_b in zip(a, b, strict=False):
            result = bson_compare(value_a, value_b)
            if result:
                return result
        return _cmp(len(a), len(b))
    if rank_a == 6:
        bytes_a, bytes_b = _binary(a), _binary(b)
        subtype_a, subtype_b = (getattr(v, "subtype", 0) for v in (a, b))
        return (
            _cmp(len(bytes_a), len(bytes_b)) or _cmp(subtype_a, subtype_b)
            or _cmp(bytes_a, bytes_b)
        )
    try:
        return _cmp(a, b)
    except TypeError:
        return _cmp(repr(a), repr(b))


_KEY = functools.cmp_to_key(bson_compare)


def bson_sorted(values: Iterable[Any]) -> list[Any]:
    """``values`` in MongoDB's order (a stable sort)."""
    return sorted(values, key=_KEY)
