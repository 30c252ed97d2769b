"""Sales orders: an aggregate holding a list of line items (value objects)."""

from __future__ import annotations

import datetime
from typing import Any

import attrs

from domain.entities import _name, _non_negative, _valid_id
from persistence.ids import new_id

__all__ = ["LineItem", "SalesOrder"]


def _positive(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


@attrs.frozen(kw_only=True)
class LineItem:
    """A value object: ``quantity`` units of ``sku`` at ``unit_price_cents`` each."""

    sku: str = attrs.field(validator=_name)
    quantity: int = attrs.field(validator=_positive)
    unit_price_cents: int = attrs.field(validator=_non_negative)


def _items(value: Any) -> list[LineItem]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"items must be a list of line items, got {value!r}")
    return [LineItem(**v) if isinstance(v, dict) else v for v in value]


@attrs.define(kw_only=True)
class SalesOrder:
    """A customer's order of line items; ``status`` is ``open``, ``paid`` or ``cancelled``."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    customer: str = attrs.field(validator=_name)
    status: str = attrs.field(
        default="open", validator=attrs.validators.in_(("open", "paid", "cancelled"))
    )
    items: list[LineItem] = attrs.field(factory=list, converter=_items)
    placed_at: datetime.datetime | None = None
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
