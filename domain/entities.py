"""Entities and value objects (attrs)."""

from __future__ import annotations

from typing import Any

import attrs

from persistence.ids import is_valid_id, new_id

__all__ = ["Account", "Dimensions", "Product", "User"]


def _valid_id(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not is_valid_id(value):
        raise ValueError(f"{attribute.name} must be 24 lowercase hex characters, got {value!r}")


def _name(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ValueError(f"{attribute.name} must be 1 to 100 characters, got {value!r}")


def _email(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    local, at, domain = value.partition("@") if isinstance(value, str) else ("", "", "")
    if not (local and at and domain and "@" not in domain and "." in domain):
        raise ValueError(f"{attribute.name} is not an email address: {value!r}")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


@attrs.define(kw_only=True)
class User:
    """A registered user.  ``email`` is unique; ``version`` counts saved changes."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    name: str = attrs.field(validator=_name)
    email: str = attrs.field(converter=_lower, validator=_email)
    active: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True)
class Dimensions:
    """A value object: a product's size in centimetres."""

    width: float | None = None
    height: float | None = None


def _tags(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"tags must be a list of strings, got {value!r}")
    return list(value)


@attrs.define(kw_only=True)
class Product:
    """A catalogue product: the aggregate the query specs are exercised on."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    name: str = attrs.field(validator=_name)
    category: str | None = None
    price: float | None = None
    stock: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    tags: list[str] = attrs.field(factory=list, converter=_tags)
    dimensions: Dimensions | None = None
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


def _non_negative(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative integer, got {value!r}")


@attrs.define(kw_only=True)
class Account:
    """A balance in cents that transfers move; it never goes negative."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    owner: str = attrs.field(validator=_name)
    balance: int = attrs.field(default=0, validator=_non_negative)
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
