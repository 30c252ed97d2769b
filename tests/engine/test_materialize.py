"""The materialisation fast path builds exactly what MongoEngine's ``_from_son`` builds.

Random BSON documents over every field type MongoEngine ships (right types, wrong types,
None, missing keys, undeclared keys, embedded and inherited documents) go through both
paths; the two objects must agree in class, ``_data`` (order, types, values),
``_changed_fields``, ``_created``, ``_initialised``, ``_dynamic_fields``, instance
``__dict__``, embedded ``_instance`` links and ``to_mongo()``, or both must raise the
same error.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from functools import partial
from typing import Any

import bson
import pytest
from bson import DBRef, ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine import (
    BinaryField,
    BooleanField,
    CachedReferenceField,
    ComplexDateTimeField,
    DateField,
    DateTimeField,
    Decimal128Field,
    DecimalField,
    DictField,
    Document,
    DynamicDocument,
    DynamicField,
    EmailField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    EnumField,
    FileField,
    FloatField,
    GenericEmbeddedDocumentField,
    GenericLazyReferenceField,
    GenericReferenceField,
    GeoPointField,
    ImageField,
    IntField,
    LazyReferenceField,
    LineStringField,
    ListField,
    LongField,
    MapField,
    MultiLineStringField,
    MultiPointField,
    MultiPolygonField,
    ObjectIdField,
    PointField,
    PolygonField,
    ReferenceField,
    SequenceField,
    SortedListField,
    StringField,
    URLField,
    UUIDField,
    signals,
)
from mongoengine.base.document import BaseDocument
from mongoengine.base.fields import BaseField

import persistence  # noqa: F401  (activates the async API)
from persistence.engine import greenlet_spawn, materialize

ORIGINAL = BaseDocument._from_son.__wrapped__  # MongoEngine's own _from_son


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(EmbeddedDocument):
    label = StringField(default="none")
    n = IntField(db_field="num")
    when = DateTimeField()
    tags = ListField(StringField())
    meta = {"allow_inheritance": True}


class InnerChild(Inner):
    extra = FloatField()


class Deep(EmbeddedDocument):
    inner = EmbeddedDocumentField(Inner)
    items = EmbeddedDocumentListField(Inner)


class Author(Document):
    name = StringField()
    meta = {"collection": "materialize_authors"}


class Cached(Document):
    name = StringField()
    meta = {"collection": "materialize_cached"}


class Every(Document):
    """One field of every kind MongoEngine ships."""

    s = StringField(max_length=50)
    renamed = StringField(db_field="r")
    url = URLField()
    email = EmailField()
    i = IntField(default=7)
    big = LongField()
    f = FloatField(null=True, default=1.5)
    dec = DecimalField()
    dec128 = Decimal128Field()
    b = BooleanField(default=False)
    dt = DateTimeField()
    d = DateField()
    cdt = ComplexDateTimeField()
    oid = ObjectIdField()
    emb = EmbeddedDocumentField(Inner)
    deep = EmbeddedDocumentField(Deep)
    gemb = GenericEmbeddedDocumentField()
    dyn = DynamicField()
    strings = ListField(StringField())
    ints = ListField(IntField(), db_field="is")
    anything = ListField()
    embs = EmbeddedDocumentListField(Inner)
    sorted_ = SortedListField(IntField())
    dct = DictField()
    mp = MapField(IntField())
    ref = ReferenceField(Author)
    dbref = ReferenceField(Author, dbref=True)
    gref = GenericReferenceField()
    lazy = LazyReferenceField(Author)
    glazy = GenericLazyReferenceField()
    cached = CachedReferenceField(Cached, fields=["name"])
    refs = ListField(ReferenceField(Author))
    binary = BinaryField()
    colour = EnumField(Colour)
    colours = ListField(EnumField(Colour))
    file = FileField()
    image = ImageField()
    seq = SequenceField()
    uid = UUIDField()
    geo = GeoPointField()
    point = PointField()
    line = LineStringField()
    poly = PolygonField()
    mpoint = MultiPointField()
    mline = MultiLineStringField()
    mpoly = MultiPolygonField()
    choice = StringField(choices=("a", "b"))
    meta = {"collection": "materialize_every", "allow_inheritance": True}


class EveryChild(Every):
    child_only = StringField(db_field="co")
    more = ListField(IntField())


class Loose(Document):
    name = StringField()
    meta = {"collection": "materialize_loose", "strict": False}


class Dyn(DynamicDocument):
    name = StringField()
    meta = {"collection": "materialize_dyn"}


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "_cls"]), st.integers(0, 99), max_size=2),
)
WHEN = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
OIDS = st.builds(ObjectId)
STRINGS = st.text(max_size=12)


def _inner(child: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, Any] = {
        "label": STRINGS | JUNK,
        "num": st.integers(min_value=-1000, max_value=1000) | JUNK,
        "when": WHEN,
        "tags": st.lists(STRINGS, max_size=3) | JUNK,
    }
    if child:
        fields["extra"] = st.floats(allow_nan=False)
        fields["_cls"] = st.just("Inner.InnerChild")
    return st.fixed_dictionaries({}, optional=fields)


INNER = _inner() | _inner(child=True)
DEEP = st.fixed_dictionaries({}, optional={"inner": INNER, "items": st.lists(INNER, max_size=2)})
POINT = st.fixed_dictionaries({"type": st.just("Point"), "coordinates": st.just([1.0, 2.0])})

RIGHT: dict[str, st.SearchStrategy[Any]] = {
    "_id": OIDS,
    "s": STRINGS,
    "r": STRINGS,
    "url": st.just("https://example.com/x"),
    "email": st.just("a@example.com"),
    "i": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "big": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "f": st.floats(allow_nan=False),
    "dec": st.sampled_from(["1.50", "2", "-3.25"]) | st.floats(allow_nan=False, width=32),
    "dec128": st.builds(bson.Decimal128, st.sampled_from(["1.5", "0", "-7.25"])),
    "b": st.booleans(),
    "dt": WHEN,
    "d": WHEN,
    "cdt": st.just("2026,01,02,03,04,05,000006"),
    "oid": OIDS,
    "emb": INNER,
    "deep": DEEP,
    "gemb": _inner().map(lambda d: {**d, "_cls": "Inner"}),
    "dyn": JUNK | INNER.map(lambda d: {**d, "_cls": "Inner"}),
    "strings": st.lists(STRINGS, max_size=4),
    "is": st.lists(st.integers(min_value=-9, max_value=9), max_size=4),
    "anything": st.lists(JUNK, max_size=3),
    "embs": st.lists(INNER, max_size=3),
    "sorted_": st.lists(st.integers(min_value=0, max_value=9), max_size=3),
    "dct": st.dictionaries(st.sampled_from(["x", "y"]), JUNK, max_size=2),
    "mp": st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 99), max_size=2),
    "ref": OIDS | OIDS.map(lambda o: DBRef("materialize_authors", o)),
    "dbref": OIDS.map(lambda o: DBRef("materialize_authors", o)),
    "gref": OIDS.map(lambda o: {"_cls": "Author", "_ref": DBRef("materialize_authors", o)}),
    "lazy": OIDS | OIDS.map(lambda o: DBRef("materialize_authors", o)),
    "glazy": OIDS.map(lambda o: {"_cls": "Author", "_ref": DBRef("materialize_authors", o)}),
    "cached": OIDS.map(lambda o: {"_id": o, "name": "c"}),
    "refs": st.lists(OIDS.map(lambda o: DBRef("materialize_authors", o)), max_size=2),
    "binary": st.binary(max_size=6),
    "colour": st.sampled_from(["red", "blue"]),
    "colours": st.lists(st.sampled_from(["red", "blue"]), max_size=3),
    "file": OIDS,
    "image": OIDS,
    "seq": st.integers(min_value=0, max_value=99),
    "uid": st.uuids().map(str),
    "geo": st.just([1.0, 2.0]),
    "point": POINT,
    "line": st.just({"type": "LineString", "coordinates": [[1.0, 2.0], [3.0, 4.0]]}),
    "poly": st.just({"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [0, 0]]]}),
    "mpoint": st.just({"type": "MultiPoint", "coordinates": [[1.0, 2.0]]}),
    "mline": st.just({"type": "MultiLineString", "coordinates": [[[1.0, 2.0], [3.0, 4.0]]]}),
    "mpoly": st.just({"type": "MultiPolygon", "coordinates": [[[[0, 0], [0, 1], [1, 1], [0, 0]]]]}),
    "choice": st.sampled_from(["a", "b", "c"]),
}
CHILD = {**RIGHT, "co": STRINGS, "more": st.lists(st.integers(0, 99), max_size=3)}


def _value(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-typed values, sometimes None or a value of the wrong type."""
    return st.one_of(strategy, strategy, strategy, st.none(), JUNK)


def _son(fields: dict[str, st.SearchStrategy[Any]], cls_name: str | None) -> Any:
    optional = {key: _value(strategy) for key, strategy in fields.items()}
    base = st.fixed_dictionaries({}, optional=optional)
    extra = st.fixed_dictionaries({}, optional={"undeclared": JUNK, "id": OIDS})
    both = st.tuples(base, extra, st.randoms(use_true_random=False))

    def build(parts: tuple[dict[str, Any], dict[str, Any], Any]) -> dict[str, Any]:
        values, undeclared, rnd = parts
        if rnd.random() < 0.85:
            undeclared = {}
        items = list({**values, **undeclared}.items())
        rnd.shuffle(items)  # MongoDB keeps insertion order, which need not be ours
        if cls_name is not None:
            items.insert(rnd.randrange(len(items) + 1), ("_cls", cls_name))
        # through BSON, as a driver would hand it over (Int64, datetimes, ...)
        return bson.decode(bson.encode(dict(items)))

    return both.map(build)


SONS = st.one_of(
    _son(RIGHT, None),
    _son(RIGHT, "Every"),
    _son(CHILD, "Every.EveryChild"),
)


def _same(a: Any, b: Any, path: str, parents: tuple[Any, Any] | None = None) -> None:
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, BaseDocument):
        _same_document(a, b, path, parents)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{n}]", parents)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            _same(a[key], b[key], f"{path}.{key}", parents)
    elif isinstance(a, BaseField):  # a dynamic document's DynamicField per extra key
        assert (a.name, a.db_field, a.null) == (b.name, b.db_field, b.null), path
    elif isinstance(a, partial):
        assert a.func.__func__ is b.func.__func__ and a.keywords == b.keywords, path
        assert a.func.__self__ is parents[0] and b.func.__self__ is parents[1], path
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"  # NaN: both


def _same_document(a: Any, b: Any, path: str, parents: tuple[Any, Any] | None) -> None:
    own = (a, b)
    _same(a._data, b._data, f"{path}._data", own)
    for attr in ("_changed_fields", "_created", "_initialised", "_dynamic_fields"):
        _same(getattr(a, attr), getattr(b, attr), f"{path}.{attr}", own)
    _same(vars(a), vars(b), f"{path}.__dict__", own)
    assert a._fields is b._fields, path
    if isinstance(a, EmbeddedDocument):
        if parents is None:
            assert a._instance is None and b._instance is None, path
        else:
            assert a._instance._data is parents[0]._data, f"{path}: _instance of a"
            assert b._instance._data is parents[1]._data, f"{path}: _instance of b"
    if isinstance(a, Document) or isinstance(a, EmbeddedDocument):
        try:
            expected = b.to_mongo()
        except Exception as error:  # compare the failure itself
            with pytest.raises(type(error)):
                a.to_mongo()
        else:
            _same(a.to_mongo(), expected, f"{path}.to_mongo()")


def _compare(cls: Any, son: dict[str, Any], created: bool = False) -> Any:
    try:
        expected = ORIGINAL(cls, dict(son), True, created)
    except Exception as error:  # the fast path must fail alike
        with pytest.raises(type(error)) as raised:
            materialize.from_son(cls, dict(son), True, created)
        assert str(raised.value) == str(error)
        return None
    actual = materialize.from_son(cls, dict(son), True, created)
    _same(actual, expected, cls.__name__)
    return actual


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(son=SONS, created=st.booleans())
def test_fast_path_equals_from_son_on_random_documents(son: dict[str, Any], created: bool) -> None:
    _compare(Every, son, created)


@settings(max_examples=100, deadline=None)
@given(son=INNER | DEEP)
def test_embedded_documents_alone_equal_from_son(son: dict[str, Any]) -> None:
    cls = Deep if ("inner" in son or "items" in son) else Inner
    _compare(cls, bson.decode(bson.encode(son)))


def test_common_documents_take_the_plan_not_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    son = {
        "_id": ObjectId(),
        "_cls": "Every",
        "s": "x",
        "i": 3,
        "strings": ["a"],
        "emb": {"num": 1},
    }

    def refuse(*args: Any) -> Any:
        raise AssertionError("fell back to _from_son")

    monkeypatch.setattr(materialize, "_fallback", refuse)
    doc = materialize.from_son(Every, son)
    assert doc.s == "x" and doc.i == 3 and doc.emb.n == 1 and doc.emb._instance.s == "x"
    assert doc._data["renamed"] is None and doc._data["b"] is False  # defaults applied
    _same(doc, ORIGINAL(Every, son, True, False), "Every")


@pytest.mark.parametrize(
    ("cls", "son"),
    [
        (Loose, {"_id": ObjectId(), "name": "n", "other": 1}),  # strict: False keeps keys
        (Dyn, {"_id": ObjectId(), "name": "n", "other": [1, 2]}),  # dynamic fields
        (Every, {"_id": ObjectId(), "_cls": "Every", "nope": 1}),  # undeclared key raises
        (Every, {"_id": ObjectId(), "renamed": "name instead of db field"}),
    ],
)
def test_documents_outside_the_plan_fall_back_with_the_same_result(cls: Any, son: Any) -> None:
    _compare(cls, son)


def test_no_dereference_and_signal_receivers_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    son = {"_id": ObjectId(), "_cls": "Every", "ref": ObjectId(), "s": "x"}
    calls: list[Any] = []
    monkeypatch.setattr(materialize, "_fallback", lambda *a: calls.append(a) or ORIGINAL(*a))
    materialize.from_son(Every, son, False)

    def receiver(sender: Any, document: Any, **kwargs: Any) -> None:
        document.seen = True

    signals.post_init.connect(receiver, sender=Every)
    try:
        doc = materialize.from_son(Every, son)
    finally:
        signals.post_init.disconnect(receiver, sender=Every)
    assert [c[2] for c in calls] == [False, True]
    assert doc.seen is True


def test_class_overriding_from_son_keeps_its_own() -> None:
    class Custom(Document):
        name = StringField()
        meta = {"collection": "materialize_custom"}

        @classmethod
        def _from_son(cls, son: Any, _auto_dereference: bool = True, created: bool = False) -> Any:
            doc = super()._from_son(son, _auto_dereference, created)
            doc.name = "custom"
            return doc

    load = materialize.loader(Custom)
    assert load({"_id": ObjectId(), "name": "x"}, True).name == "custom"
    assert materialize.plan_for(Custom) is None


async def test_from_son_inside_the_bridge_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    son = bson.decode(bson.encode({"_id": ObjectId(), "s": "x", "deep": {"inner": {"num": 2}}}))
    seen: list[Any] = []
    real = materialize.from_son
    monkeypatch.setattr(materialize, "from_son", lambda *a: seen.append(a[0]) or real(*a))
    inside = await greenlet_spawn(Every._from_son, son)
    outside = Every._from_son(son)
    assert Every in seen and len(seen) >= 1
    count = len(seen)
    Every._from_son(son)
    assert len(seen) == count  # outside the bridge: MongoEngine's own path
    _same(inside, outside, "Every")


def test_uuid_and_decimal_values_round_trip() -> None:
    son = {"_id": ObjectId(), "uid": str(uuid.uuid4()), "dec": decimal.Decimal("1.25")}
    _compare(Every, son)
