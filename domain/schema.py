"""What a repository knows about the shape of its stored documents, path by path.

Aggregation specs need to know which paths are arrays (a path that crosses one needs an
unwind) and which hold numbers (arithmetic and sums).  A :class:`Schema` answers that:
any callable taking a dotted path and returning its :class:`FieldType`, or None for a
path the aggregate does not have.  A path below an array describes the elements'
fields (``items.sku`` is the ``sku`` of each line item).  Repositories supply one from
their declarations: the mongo adapter from the Document's fields, the memory adapter
from the entity's attrs fields (:func:`entity_schema`).
"""

from __future__ import annotations

import datetime
import types
import typing
from typing import Any, Literal, Protocol

import attrs

from .relations import is_id_path

__all__ = ["ANY", "KINDS", "FieldType", "Kind", "Schema", "entity_schema"]

Kind = Literal["number", "string", "bool", "date", "id", "object", "array", "any"]
KINDS: tuple[str, ...] = ("number", "string", "bool", "date", "id", "object", "array", "any")


@attrs.frozen
class FieldType:
    """The kind of value at a path; for an array, ``of`` is the kind of its elements."""

    kind: Kind = attrs.field()
    of: FieldType | None = None

    @kind.validator
    def _kind(self, _: Any, value: str) -> None:
        if value not in KINDS:
            raise ValueError(f"unknown field kind {value!r}; one of {KINDS}")

    @property
    def is_array(self) -> bool:
        return self.kind == "array"

    @property
    def element(self) -> FieldType:
        """The type of one element (``any`` when the array's contents are undeclared)."""
        return self.of if self.of is not None else ANY


ANY = FieldType("any")


class Schema(Protocol):
    """``schema("items.sku")``: the path's :class:`FieldType`, or None if unknown."""

    def __call__(self, path: str) -> FieldType | None: ...


def entity_schema(entity_cls: type) -> Schema:
    """The schema of an attrs entity class, read from its field annotations.

    ``int``/``float`` are numbers, ``str`` strings (ids where the name says so, as
    :func:`domain.relations.is_id_path` does), ``list[X]`` arrays of ``X``, nested attrs
    classes objects; ``X | None`` is ``X``.
    """
    root = _attrs_type(entity_cls)

    def schema(path: str) -> FieldType | None:
        return _walk(root, path.split("."), entity_cls)

    return schema


def _walk(current: FieldType, parts: list[str], cls: Any) -> FieldType | None:
    # ``cls`` is the attrs class whose fields the next part names (None: undeclared)
    for index, part in enumerate(parts):
        while current.is_array:
            current = current.element
        if current.kind == "any":
            return ANY
        if cls is None or not attrs.has(cls):
            return None
        fields = attrs.fields_dict(cls)
        if part not in fields:
            return None
        annotation = fields[part].type
        current = _annotation_type(annotation, part)
        cls = _innermost_attrs(annotation)
        if index == len(parts) - 1:
            return current
    return current


def _attrs_type(cls: type) -> FieldType:
    attrs.resolve_types(cls)
    return FieldType("object")


def _annotation_type(annotation: Any, name: str) -> FieldType:
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        args = typing.get_args(annotation)
        element = _annotation_type(args[0], name) if args else ANY
        return FieldType("array", element)
    if isinstance(annotation, type) and attrs.has(annotation):
        attrs.resolve_types(annotation)
        return FieldType("object")
    if origin in (dict, typing.Mapping) or annotation is dict:
        return FieldType("any")
    if annotation is bool:
        return FieldType("bool")
    if annotation in (int, float):
        return FieldType("number")
    if annotation is str:
        return FieldType("id" if is_id_path(name) else "string")
    if annotation in (datetime.datetime, datetime.date):
        return FieldType("date")
    return ANY


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        if args and all(a in (int, float) for a in args):
            return float
        return Any
    return annotation


def _innermost_attrs(annotation: Any) -> Any:
    """The attrs class inside ``X``, ``X | None``, ``list[X]`` (None if there is none)."""
    annotation = _strip_optional(annotation)
    while typing.get_origin(annotation) in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        annotation = _strip_optional(args[0]) if args else None
    if isinstance(annotation, type) and attrs.has(annotation):
        return annotation
    return None
