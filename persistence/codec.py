"""Entities to plain dicts and back (nested attrs values and lists of them included)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs

from persistence.specs import _nested_type

__all__ = ["PLAIN_SCALARS", "from_dict", "to_dict"]

T = TypeVar("T")


PLAIN_SCALARS: frozenset[type] = frozenset({str, int, float, bool, type(None)})
"""The exact types an entity holds as plain values (copied as they are)."""


def to_dict(entity: Any) -> dict[str, Any]:
    """The entity's fields as plain dicts, lists and scalars (copies)."""
    values: dict[str, Any] = {}
    for name, _, _ in _shape(type(entity)):  # flat entities without attrs.asdict's walk
        value = getattr(entity, name)
        kind = type(value)
        if kind in PLAIN_SCALARS:
            values[name] = value
        elif kind is list and all(type(item) in PLAIN_SCALARS for item in value):
            values[name] = list(value)
        else:
            return attrs.asdict(entity, recurse=True)
    return values


_Shape = tuple[tuple[str, Any, Any], ...]
_SHAPES: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    """Per field of the attrs class ``cls``: its name, the attrs class it nests (or
    None) and the attrs class of its list items (or None); worked out once per class."""
    found = _SHAPES.get(cls)
    if found is None:
        attrs_cls = cast(Any, cls)
        attrs.resolve_types(attrs_cls)
        found = _SHAPES[cls] = tuple(
            (name, _nested_type(field.type), _list_item_type(field.type))
            for name, field in attrs.fields_dict(attrs_cls).items()
        )
    return found


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of the attrs class ``cls`` built (and validated) from ``data``.

    Nested attrs values are built from nested dicts; keys ``cls`` lacks are ignored.
    """
    values: dict[str, Any] = {}
    for name, nested, item in _shape(cls):
        if name not in data:
            continue
        value = data[name]
        if nested is not None and isinstance(value, dict):
            value = from_dict(nested, value)
        elif item is not None and isinstance(value, list):
            value = [from_dict(item, v) if isinstance(v, dict) else v for v in value]
        values[name] = value
    return cls(**values)


def _list_item_type(annotation: Any) -> Any:
    """The attrs class ``X`` of ``list[X]`` (or ``list[X] | None``), else None."""
    for option in (annotation, *getattr(annotation, "__args__", ())):
        if getattr(option, "__origin__", None) is list:
            return _nested_type(option.__args__[0]) if option.__args__ else None
    return None
