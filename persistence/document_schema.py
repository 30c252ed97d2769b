"""The :class:`persistence.schema.Schema` of a MongoEngine Document, read from its fields, and
spec values as its fields store them."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from bson import Decimal128
from mongoengine import Document, fields

from persistence.schema import ANY, FieldType, Schema

from .engine import compat

__all__ = ["StoredValues", "document_schema", "holds_decimal128"]

_DECIMALS = (fields.DecimalField, fields.Decimal128Field)
_NUMBERS = (fields.IntField, fields.LongField, fields.FloatField)
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
        declared: dict[str, Any] | None = compat.declared_fields(document_cls)
        field: Any = None
        for part in path.split("."):
            if field is not None:
                inner = _element(field)
                if isinstance(inner, _OPEN) or inner is None:
                    return ANY
                if not isinstance(inner, fields.EmbeddedDocumentField):
                    return None
                declared = compat.fields(inner.document_type)
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
    if isinstance(field, _DECIMALS):
        return FieldType("number", decimal=True)
    if isinstance(field, _NUMBERS):
        return FieldType("number")
    if isinstance(field, _IDS):
        return FieldType("id")
    if isinstance(field, _DATES):
        return FieldType("date")
    if isinstance(field, fields.StringField):
        return FieldType("string")
    return ANY


class StoredValues:
    """``Decimal`` and ``date`` values of specs and changes as ``document_cls``'s fields
    store them (other values are left as they are; the typed comparisons have refused
    those their field cannot hold, and a field of any type takes a ``Decimal`` as a
    ``Decimal128``).

    In a predicate a value is converted exactly: a ``Decimal`` becomes the double (or
    ``Decimal128``) it is, never rounded to the field's precision, so ``<``, ``==`` and
    ``>`` keep their meaning; a ``date`` is its midnight, as MongoEngine stores dates.  In
    a change the value is what saving an entity with it stores (the field's
    ``to_mongo``: a ``DecimalField`` rounds to its precision).
    """

    def __init__(self, document_cls: type[Document]) -> None:
        self._document = document_cls
        self._fields: dict[str, Any] = {}

    def field(self, path: str) -> Any:
        """The field at ``path`` (the element field of a list), or None."""
        try:
            return self._fields[path]
        except KeyError:
            found = self._fields[path] = _field_at(self._document, path)
            return found

    def in_query(self, path: str, value: Any) -> Any:
        """``value`` compared with the field at ``path`` as it is stored."""
        kind = type(value)
        if kind is decimal.Decimal:
            field = self.field(path)
            if isinstance(field, fields.DecimalField):
                return field.to_mongo(value) if field.force_string else float(value)
            return Decimal128(value)  # a Decimal128Field's, or a field of any type
        elif kind is datetime.date:
            return datetime.datetime(value.year, value.month, value.day)
        return value

    def in_change(self, path: str, value: Any) -> Any:
        """``value`` as saving it in the field at ``path`` stores it."""
        if isinstance(value, (decimal.Decimal, datetime.date)):
            field = self.field(path)
            if isinstance(field, (*_DECIMALS, *_DATES)):
                return field.to_mongo(value)
            return self.in_query(path, value)
        return value


def _field_at(document_cls: type[Document], path: str) -> Any:
    declared: dict[str, Any] | None = compat.declared_fields(document_cls)
    field: Any = None
    for part in path.split("."):
        if field is not None:
            if not isinstance(field, fields.EmbeddedDocumentField):
                return None
            declared = compat.fields(field.document_type)
        field = _element(declared.get(part)) if declared is not None else None
        if field is None:
            return None
    return field


def holds_decimal128(document_cls: type[Any]) -> bool:
    """True if ``document_cls`` or a document embedded in it has a ``Decimal128Field``."""
    for field in (compat.declared_fields(document_cls) or {}).values():
        inner = _element(field)
        if isinstance(inner, fields.Decimal128Field):
            return True
        if isinstance(inner, fields.EmbeddedDocumentField) and holds_decimal128(
            inner.document_type
        ):
            return True
    return False
