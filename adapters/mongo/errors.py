"""Translation of MongoEngine/PyMongo errors into domain errors."""

from __future__ import annotations

import re

from mongoengine.errors import NotUniqueError

from domain.errors import Conflict

__all__ = ["conflict_from"]

_DUP_KEY = re.compile(r"dup key: \{ ?\"?([\w.]+)\"?:")
_INDEX = re.compile(r"index: ([\w.]+?)_-?1")


def conflict_from(error: NotUniqueError, entity_name: str) -> Conflict:
    """A domain ``Conflict`` naming the duplicated field of a ``NotUniqueError``."""
    text = str(error)
    match = _DUP_KEY.search(text) or _INDEX.search(text)
    field = match.group(1) if match else "id"
    return Conflict(entity_name, field)
