"""Mapping between attrs entities (``domain``) and MongoEngine documents.

Entities carry their id as a 24-hex string; documents as an ``ObjectId``.  Every other
attrs field maps to the document field of the same name.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs
from bson import ObjectId
from bson.errors import InvalidId
from mongoengine import Document

E = TypeVar("E")
D = TypeVar("D", bound=Document)

__all__ = ["DocumentMapper", "to_object_id"]


def to_object_id(entity_id: str) -> ObjectId | None:
    """The ObjectId of an entity id, or None when it cannot be one."""
    try:
        return ObjectId(entity_id)
    except (InvalidId, TypeError):
        return None


class DocumentMapper(Generic[E, D]):
    """Two-way mapping between an attrs entity class and a Document class."""

    def __init__(self, entity_cls: type[E], document_cls: type[D]) -> None:
        self.entity_cls = entity_cls
        self.document_cls = document_cls
        names = [field.name for field in attrs.fields(entity_cls)]  # type: ignore[arg-type]
        missing = [n for n in names if n != "id" and n not in document_cls._fields]
        if missing:
            raise TypeError(
                f"{document_cls.__name__} lacks fields {missing} of {entity_cls.__name__}"
            )
        self.fields = tuple(n for n in names if n != "id")

    def to_document(self, entity: E) -> D:
        """A new (unsaved) document holding the entity's state."""
        values = {name: getattr(entity, name) for name in self.fields}
        return self.document_cls(id=ObjectId(entity.id), **values)  # type: ignore[attr-defined]

    def to_entity(self, document: D) -> E:
        """The entity a loaded document describes."""
        data = document._data
        values: dict[str, Any] = {name: data.get(name) for name in self.fields}
        return self.entity_cls(id=str(document.pk), **values)

    def changes(self, entity: E) -> dict[str, Any]:
        """``set__field=value`` keyword arguments for an update of every mapped field."""
        return {f"set__{name}": getattr(entity, name) for name in self.fields}
