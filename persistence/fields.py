"""Field types that state persistence facts MongoEngine has no field for.

``VersionField``
    The aggregate's optimistic-concurrency counter (an ``IntField`` starting at 0):
    ``save`` checks and increments it, ``update_where`` increments it.
``IdReferenceField``
    An ``ObjectIdField`` that holds the id of another aggregate, without the proxy of a
    ``ReferenceField`` (``IdReferenceField("CustomerDocument")``).  Delete rules need a
    ``ReferenceField`` (MongoEngine applies them only there).
``FileIdField``
    An ``ObjectIdField`` that holds the id of a file in the unit of work's file store.
"""

from __future__ import annotations

from typing import Any

from mongoengine import Document, IntField, ObjectIdField
from mongoengine.base import get_document

__all__ = ["FileIdField", "IdReferenceField", "VersionField"]


class VersionField(IntField):  # type: ignore[misc]
    """The version counter of an aggregate (default 0, never negative)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", 0)
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)


class IdReferenceField(ObjectIdField):  # type: ignore[misc]
    """The id of an aggregate stored by ``document_type`` (a Document class or its name)."""

    def __init__(self, document_type: type[Document] | str, **kwargs: Any) -> None:
        self.document_type_name = (
            document_type if isinstance(document_type, str) else document_type.__name__
        )
        super().__init__(**kwargs)

    @property
    def document_type(self) -> type[Document]:
        """The referenced Document class (resolved by name on first use)."""
        return get_document(self.document_type_name)  # type: ignore[no-any-return]


class FileIdField(ObjectIdField):  # type: ignore[misc]
    """The id of a file in the file store; the aggregate owns the file."""
