"""Stored values as mongomock's matcher compares them.

mongomock neither orders nor stores anything but BSON types, and it orders no
``Decimal128`` (it raises): the memory adapter's queries see a ``Decimal128`` as the
double nearest to it, on both sides of a comparison.  (MongoDB compares a ``Decimal128``
exactly; the two differ only between decimals closer than a double can tell apart.)
"""

from __future__ import annotations

from typing import Any

from bson import Decimal128

__all__ = ["comparable"]


def comparable(value: Any) -> Any:
    """``value`` (a document, a filter, a list) with every ``Decimal128`` a double."""
    kind = type(value)
    if kind is dict:
        return {key: comparable(item) for key, item in value.items()}
    if kind is list:
        return [comparable(item) for item in value]
    if kind is Decimal128:
        return float(value.to_decimal())
    return value
