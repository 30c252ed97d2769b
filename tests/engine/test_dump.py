"""The native writes' ``to_mongo`` builds exactly what MongoEngine's ``to_mongo()`` builds.

Random documents over every field type MongoEngine ships (loaded from random BSON with
right and wrong types, then changed through attributes) go through both; the SONs must be
equal key by key, in order, with the same value types, or both must raise the same error.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    DictField,
    Document,
    DynamicDocument,
    EmailField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    EnumField,
    FileField,
    FloatField,
    GenericReferenceField,
    IntField,
    ListField,
    LongField,
    MapField,
    ObjectIdField,
    PointField,
    ReferenceField,
    SequenceField,
    SortedListField,
    StringField,
    URLField,
    UUIDField,
)

import persistence  # noqa: F401  (activates the async API)
from persistence.engine import dump


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


class Part(EmbeddedDocument):
    label = StringField()
    n = IntField(db_field="num")


class Maker(Document):
    name = StringField()
    meta = {"collection": "dump_makers"}


class Dumped(Document):
    """A field of nearly every kind MongoEngine ships (none generating its value)."""

    s = StringField(max_length=50)
    renamed = StringField(db_field="r")
    url = URLField()
    email = EmailField()
    i = IntField(default=7)
    big = LongField()
    f = FloatField(null=True, default=1.5)
    dec = DecimalField()
    b = BooleanField(default=False)
    dt = DateTimeField()
    d = DateField()
    oid = ObjectIdField()
    emb = EmbeddedDocumentField(Part)
    strings = ListField(StringField())
    ints = ListField(IntField(), db_field="is")
    anything = ListField()
    parts = EmbeddedDocumentListField(Part)
    sorted_ = SortedListField(IntField())
    dct = DictField()
    mp = MapField(IntField())
    ref = ReferenceField(Maker)
    gref = GenericReferenceField()
    shade = EnumField(Shade)
    uid = UUIDField()
    point = PointField()
    file = FileField()
    choice = StringField(choices=("a", "b"))
    nullable = StringField(null=True)
    meta = {"collection": "dump_every", "allow_inheritance": True}


class DumpedChild(Dumped):
    more = ListField(IntField())


class Plain(Document):
    name = StringField()
    age = IntField(null=True)
    tags = ListField(StringField())
    nums = ListField(IntField())
    meta = {"collection": "dump_plain"}


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.integers(-5, 5) | st.text(max_size=3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2),
)
STRINGS = st.text(max_size=10)
WHEN = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1)
)
MAKER = st.builds(lambda: Maker(id=bson.ObjectId(), name="m"))
RIGHT: dict[str, st.SearchStrategy[Any]] = {
    "s": STRINGS,
    "renamed": STRINGS,
    "url": st.just("https://example.com/x"),
    "email": st.just("a@example.com"),
    "i": st.integers(-(2**31), 2**31 - 1),
    "big": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=False),
    "dec": st.sampled_from([decimal.Decimal("1.5"), decimal.Decimal("-2")]),
    "b": st.booleans(),
    "dt": WHEN,
    "d": WHEN.map(lambda w: w.date()),
    "oid": st.builds(bson.ObjectId),
    "emb": st.builds(Part, label=STRINGS, n=st.integers(0, 9)),
    "strings": st.lists(STRINGS, max_size=3),
    "ints": st.lists(st.integers(-9, 9), max_size=3),
    "anything": st.lists(JUNK, max_size=3),
    "parts": st.lists(st.builds(Part, label=STRINGS), max_size=2),
    "sorted_": st.lists(st.integers(0, 9), max_size=3),
    "dct": st.dictionaries(st.sampled_from(["x", "y"]), JUNK, max_size=2),
    "mp": st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 9), max_size=2),
    "ref": MAKER,
    "gref": MAKER,
    "shade": st.sampled_from(Shade),
    "uid": st.uuids(),
    "point": st.just([1.0, 2.0]),
    "choice": st.sampled_from(["a", "b", "c"]),
    "nullable": st.none() | STRINGS,
}
VALUES = st.fixed_dictionaries(
    {}, optional={name: st.one_of(strategy, strategy, JUNK) for name, strategy in RIGHT.items()}
)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return type(value), [(k, _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return type(value), [_types(v) for v in value]
    return type(value), value


def _compare(document: Any) -> None:
    try:
        expected = document.to_mongo()
    except Exception as error:
        with pytest.raises(type(error)):
            dump.to_mongo(document)
        return
    got = dump.to_mongo(document)
    assert _types(got) == _types(expected)


def _build(cls: Any, values: dict[str, Any]) -> Any:
    """A document made by the constructor, or by attributes where the constructor
    refuses a value (as an application would change it after loading)."""
    try:
        return cls(**values)
    except Exception:
        document = cls()
        for name, value in values.items():
            try:
                setattr(document, name, value)
            except Exception:
                continue
        return document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=VALUES, changes=VALUES, child=st.booleans(), with_id=st.booleans())
def test_to_mongo_equals_mongoengine_on_random_documents(
    values: Any, changes: Any, child: bool, with_id: bool
) -> None:
    cls = DumpedChild if child else Dumped
    document = _build(cls, values)
    if with_id:
        document.id = bson.ObjectId()
    assert dump.plan_of(cls) is not None
    _compare(document)
    for name, value in changes.items():
        try:
            setattr(document, name, value)
        except Exception:
            continue
    _compare(document)
    try:  # and as loaded from the database
        stored = bson.decode(bson.encode(document.to_mongo()))
        loaded = type(document)._from_son(stored)
    except Exception:
        return
    _compare(loaded)


@settings(max_examples=200, deadline=None)
@given(
    name=st.none() | STRINGS,
    age=st.none() | st.integers(-(2**40), 2**40) | st.booleans() | st.floats(-1e9, 1e9),
    tags=st.lists(STRINGS | st.integers(), max_size=3),
    nums=st.lists(st.integers() | st.booleans() | STRINGS, max_size=3),
    with_id=st.booleans(),
)
def test_plain_documents_made_by_their_constructor(
    name: Any, age: Any, tags: Any, nums: Any, with_id: bool
) -> None:
    document = Plain(name=name, age=age, tags=tags, nums=nums)
    if with_id:
        document.id = bson.ObjectId()
    assert dump.plan_of(Plain) is not None
    _compare(document)
    document.tags.append("more")
    _compare(document)


def test_classes_outside_the_plan_use_mongoengine_to_mongo() -> None:
    class Counted(Document):
        n = SequenceField()
        meta = {"collection": "dump_counted"}

    class Loose(DynamicDocument):
        meta = {"collection": "dump_loose"}

    class Own(Document):
        name = StringField()
        meta = {"collection": "dump_own"}

        def to_mongo(self, *args: Any, **kwargs: Any) -> Any:
            data = super().to_mongo(*args, **kwargs)
            data["own"] = True
            return data

    assert dump.plan_of(Counted) is None
    assert dump.plan_of(Loose) is None
    assert dump.plan_of(Own) is None
    assert dump.to_mongo(Own(name="x"))["own"] is True
    loose = Loose(anything=1)
    assert dump.to_mongo(loose) == loose.to_mongo()


def test_dates_uuids_and_references() -> None:
    maker = Maker(id=bson.ObjectId(), name="m")
    document = DumpedChild(
        s="x", more=[1, 2], d=datetime.date(2026, 1, 2), uid=uuid.uuid4(), ref=maker, gref=maker
    )
    _compare(document)
    assert dump.to_mongo(document)["_cls"] == "Dumped.DumpedChild"
