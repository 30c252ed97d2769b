"""The shortcuts of the spec pipeline and the mapping answer as the long way does."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import attrs
import bson
import pytest
from bson import SON, CodecOptions, ObjectId

from persistence.errors import UnknownField
from persistence.mapping import kept_as_is, stored_form
from persistence.specs import validate_paths


@attrs.define
class Inner:
    a: int = 0


@attrs.define
class Outer:
    inner: Inner = attrs.field(factory=Inner)
    name: str = ""


@attrs.define
class Other:
    name: str = ""


def test_a_checked_path_is_known_only_to_its_own_class() -> None:
    validate_paths(Outer, ["inner.a", "name"])
    validate_paths(Outer, ["inner.a", "name"])  # answered from the cache
    with pytest.raises(UnknownField, match=r"inner\.b"):
        validate_paths(Outer, ["inner.a", "inner.b"])
    with pytest.raises(UnknownField, match="inner"):
        validate_paths(Other, ["name", "inner.a"])


class Text(str):
    pass


KEPT = [
    "s",
    1,
    -(2**31),
    2**31 - 1,
    1.5,
    True,
    None,
    ObjectId(),
    [1, ["a", None]],
    {"a": {"b": [ObjectId()]}},
    SON([("_id", ObjectId()), ("tags", ["x"])]),
]
CHANGED = [
    datetime.datetime(2024, 1, 1, 0, 0, 0, 123456),
    (1, 2),
    2**31,
    -(2**63),
    Text("s"),
    Decimal("1.5"),
    uuid.uuid4(),
    b"bytes",
    {"a": (1,)},
    [datetime.date(2024, 1, 1)],
]


@pytest.mark.parametrize("value", KEPT, ids=repr)
def test_kept_values_come_back_unchanged(value: Any) -> None:
    assert kept_as_is(value)
    son = {"v": value}
    back = stored_form(son, CodecOptions(tz_aware=True))["v"]
    assert back == value
    assert type(back) is type(value) or isinstance(value, SON)  # a SON comes back a dict


@pytest.mark.parametrize("value", CHANGED, ids=repr)
def test_other_values_take_the_bson_round_trip(value: Any) -> None:
    assert not kept_as_is({"v": value})


def test_a_key_that_is_not_a_string_is_not_kept() -> None:
    assert not kept_as_is({1: "a"})
    with pytest.raises(bson.errors.InvalidDocument):
        bson.encode({1: "a"})
