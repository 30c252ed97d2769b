"""The :class:`domain.schema.Schema` of a MongoEngine Document, read from its fields."""

from __future__ import annotations

from typing import Any

from mongoengine import Document, fields

from domain.schema import ANY, FieldType, Schema

__all__ = ["document_schema"]

_NUMBERS = (fields.IntField, fields.LongField, fields.FloatField, fields.DecimalField)
_IDS = (
    fields.ObjectIdField,
    fields.ReferenceField,
    fields.LazyReferenceField,
    fields.CachedReferenceField,
)
_DATES = (fields.DateTimeField, fields.DateField)
_OPEN = (
    fields.DictField,
    fields.MapField,
    fields.DynamicField,
    fields.GenericEmbeddedDocumentField,
)


_SCHEMAS: dict[type[Document], Schema] = {}
_REMEMBERED_PATHS = 1024  # answers kept per Document class


def document_schema(document_cls: type[Document]) -> Schema:
    """The :func:`schema_of` ``document_cls``, made once per class."""
    found = _SCHEMAS.get(document_cls)
    if found is None:
        found = _SCHEMAS[document_cls] = schema_of(document_cls)
    return found


def schema_of(document_cls: type[Document]) -> Schema:
    """``schema("items.sku")`` answered from ``document_cls``'s declared fields.

    ``id`` is the primary key; list fields are arrays of their field's type; a path
    continues into embedded documents (through lists of them); dict-like fields accept
    any path below them.
    """

    answers: dict[str, FieldType | None] = {}

    def schema(path: str) -> FieldType | None:
        try:
            return answers[path]
        except KeyError:
            found = lookup(path)
            if len(answers) < _REMEMBERED_PATHS:  # paths below a dict field are unbounded
                answers[path] = found
            return found

    def lookup(path: str) -> FieldType | None:
        if path in ("id", "pk"):
            return FieldType("id")
        declared: dict[str, Any] | None = getattr(document_cls, "_fields")  # noqa: B009
        field: Any = None
        for part in path.split("."):
            if field is not None:
                inner = _element(field)
                if isinstance(inner, _OPEN) or inner is None:
                    return ANY
                if not isinstance(inner, fields.EmbeddedDocumentField):
                    return None
                declared = inner.document_type._fields
            field = declared.get(part) if declared is not None else None
            if field is None:
                return None
        return _type(field)

    return schema


def _element(field: Any) -> Any:
    """The field inside list fields (None when a list does not declare its elements)."""
    while isinstance(field, fields.ListField):
        field = field.field
    return field


def _type(field: Any) -> FieldType:
    if isinstance(field, fields.ListField):
        return FieldType("array", _type(field.field) if field.field is not None else ANY)
    if isinstance(field, fields.EmbeddedDocumentField):
        return FieldType("object")
    if isinstance(field, fields.BooleanField):
        return FieldType("bool")
    if isinstance(field, _NUMBERS):
        return FieldType("number")
    if isinstance(field, _IDS):
        return FieldType("id")
    if isinstance(field, _DATES):
        return FieldType("date")
    if isinstance(field, fields.StringField):
        return FieldType("string")
    return ANY
