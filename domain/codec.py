"""Entities to plain dicts and back (nested attrs values and lists of them included)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs

from .specs import _nested_type

__all__ = ["from_dict", "to_dict"]

T = TypeVar("T")


def to_dict(entity: Any) -> dict[str, Any]:
    """The entity's fields as plain dicts, lists and scalars (copies)."""
    return attrs.asdict(entity, recurse=True)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of the attrs class ``cls`` built (and validated) from ``data``.

    Nested attrs values are built from nested dicts; keys ``cls`` lacks are ignored.
    """
    attrs_cls = cast(Any, cls)
    attrs.resolve_types(attrs_cls)
    values: dict[str, Any] = {}
    for name, field in attrs.fields_dict(attrs_cls).items():
        if name not in data:
            continue
        value = data[name]
        nested = _nested_type(field.type)
        if nested is not None and isinstance(value, dict):
            value = from_dict(nested, value)
        elif isinstance(value, list):
            item = _list_item_type(field.type)
            if item is not None:
                value = [from_dict(item, v) if isinstance(v, dict) else v for v in value]
        values[name] = value
    return cls(**values)


def _list_item_type(annotation: Any) -> Any:
    """The attrs class ``X`` of ``list[X]`` (or ``list[X] | None``), else None."""
    for option in (annotation, *getattr(annotation, "__args__", ())):
        if getattr(option, "__origin__", None) is list:
            return _nested_type(option.__args__[0]) if option.__args__ else None
    return None
