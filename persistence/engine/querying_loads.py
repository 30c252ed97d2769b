"""Documents whose loading queries: a ``DynamicField`` holding a stored Document.

MongoEngine stores a Document put in a ``DynamicField`` as ``{"_cls": ..., "_ref":
DBRef}`` and dereferences it while the holding document is built (``DynamicField.
to_python``), so building such a document is I/O.  The async reads build documents in
the task, where no sync I/O can run: for a stored document that holds such a value they
build it in the bridge instead, with MongoEngine's own code, so the result is the sync
one (the referenced document loaded in place).  Everything else keeps the task path;
which classes can hold such a value is worked out once per class.
"""

from __future__ import annotations

from typing import Any

from mongoengine.base.fields import ComplexBaseField
from mongoengine.fields import DynamicField, EmbeddedDocumentField, GenericEmbeddedDocumentField

from . import compat

__all__ = ["holds_stored_document", "loading_queries", "may_query"]

_may_query: dict[type, bool] = {}
_registry_size = 0  # classes defined since the answers were worked out: work them out again


def may_query(cls: Any) -> bool:
    """True when building a document of ``cls``, or of a subclass its ``_cls`` names,
    can dereference a stored Document (a ``DynamicField`` anywhere inside, or a dynamic
    document); cached per class."""
    global _registry_size
    if len(compat.document_registry) != _registry_size:
        _may_query.clear()
        _registry_size = len(compat.document_registry)
    found = _may_query.get(cls)
    if found is None:
        found = _may_query[cls] = _class_may_query(cls, set())
    return found


def _class_may_query(cls: Any, seen: set[type]) -> bool:
    if cls in seen:
        return False
    seen.add(cls)
    if compat.is_dynamic_class(cls):
        return True  # undeclared values are DynamicFields too
    try:
        fields = list(compat.fields(cls).values())
        subclasses = cls.__subclasses__()
    except Exception:  # not a document class we can inspect: ask the stored document
        return True
    return any(_field_may_query(field, seen) for field in fields) or any(
        _class_may_query(sub, seen) for sub in subclasses
    )


def _field_may_query(field: Any, seen: set[type]) -> bool:
    if isinstance(field, (DynamicField, GenericEmbeddedDocumentField)):
        return True  # a generic embedded document may be of any class
    if isinstance(field, EmbeddedDocumentField):
        try:
            document_type = field.document_type
        except Exception:  # declared by a name not defined yet
            return True
        return _class_may_query(document_type, seen)
    if isinstance(field, ComplexBaseField) and field.field is not None:
        return _field_may_query(field.field, seen)
    return False


def holds_stored_document(value: Any) -> bool:
    """True when a stored value holds ``{"_cls": ..., "_ref": ...}`` anywhere inside."""
    if isinstance(value, dict):
        if "_ref" in value and "_cls" in value:
            return True
        return any(holds_stored_document(item) for item in value.values())
    if isinstance(value, list):
        return any(holds_stored_document(item) for item in value)
    return False


def loading_queries(cls: Any, son: Any) -> bool:
    """True when building ``son`` as a ``cls`` document queries: build it in the bridge."""
    return may_query(cls) and holds_stored_document(son)
