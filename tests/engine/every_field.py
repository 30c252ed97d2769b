"""Documents with a field of every type MongoEngine ships, and hypothesis strategies for
their stored (BSON) form: shared by the fast paths' equality tests (materialisation in
``test_from_stored.py``, serialisation in ``test_to_stored.py``).

``SONS`` draws stored documents of ``Every`` and ``EveryChild``: mostly well-typed
values, sometimes None, a value of the wrong type, an undeclared key, in any key order,
round-tripped through BSON as a driver hands them over.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

import bson
from bson import DBRef, ObjectId
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
)

__all__ = [
    "CHILD",
    "DEEP",
    "INNER",
    "JUNK",
    "OIDS",
    "RIGHT",
    "SONS",
    "STRINGS",
    "WHEN",
    "Author",
    "Cached",
    "Colour",
    "Deep",
    "Every",
    "EveryChild",
    "Inner",
    "InnerChild",
    "maybe_wrong",
]


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


def maybe_wrong(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-typed values, sometimes None or a value of the wrong type."""
    return st.one_of(strategy, strategy, strategy, st.none(), JUNK)


def _son(fields: dict[str, st.SearchStrategy[Any]], cls_name: str | None) -> Any:
    optional = {key: maybe_wrong(strategy) for key, strategy in fields.items()}
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
