"""The serialisation fast path returns exactly what MongoEngine's ``to_mongo`` returns.

Random documents over every field type MongoEngine ships (loaded from random stored
forms, and built from random Python values: right types, wrong types, None, embedded,
inherited and referenced documents, GridFS proxies) are serialised by
``persistence.engine.to_stored.to_mongo``, by the grafted ``doc.to_mongo()`` of a class on an
async alias, and by MongoEngine's own ``to_mongo`` with the graft removed; the results
must agree in keys, key order, values and types at every level, or all must raise the
same error.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import pickle
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import bson
import mongomock
import pytest
from bson import CodecOptions, DBRef, Decimal128, Int64, ObjectId, UuidRepresentation
from bson.son import SON
from every_field import (
    JUNK,
    OIDS,
    SONS,
    STRINGS,
    WHEN,
    Author,
    Cached,
    Colour,
    Deep,
    Every,
    EveryChild,
    Inner,
    InnerChild,
    maybe_wrong,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mongoengine import (
    DictField,
    Document,
    DynamicDocument,
    DynamicEmbeddedDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ReferenceField,
    SequenceField,
    StringField,
)
from mongoengine.base.datastructures import LazyReference
from mongoengine.base.document import BaseDocument
from mongoengine.fields import GridFSProxy, ImageGridFsProxy

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import connect_async, disconnect_async, greenlet_spawn, to_stored

LOAD = BaseDocument._from_son.__wrapped__  # MongoEngine's own _from_son
GRAFTED = vars(Document)["to_mongo"]
MONGOENGINE = GRAFTED.__wrapped__  # MongoEngine's own Document.to_mongo


@contextlib.contextmanager
def mongoengine_only() -> Iterator[None]:
    """Document.to_mongo without the graft, also for documents nested in others."""
    Document.to_mongo = MONGOENGINE  # type: ignore[method-assign]
    try:
        yield
    finally:
        Document.to_mongo = GRAFTED  # type: ignore[method-assign]


@pytest.fixture(scope="module")
async def default_is_async() -> AsyncIterator[None]:
    """The alias "default" (of the every-field documents) is an async one (mongomock)."""
    await connect_async("dump_tests", alias="default", mongo_client_class=mongomock.MongoClient)
    try:
        yield
    finally:
        await disconnect_async("default")


def same(actual: Any, expected: Any, path: str = "") -> None:
    """Equal values of identical types, dicts and SONs with the same keys in order."""
    assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(dict.keys(actual)) == list(dict.keys(expected)), f"{path}: keys"
        if isinstance(expected, SON):  # its own key list, what iteration and BSON use
            assert list(actual) == list(expected) == list(dict.keys(expected)), path
            assert vars(actual).keys() == vars(expected).keys(), path
        for key in expected:
            same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: length"
        for n, (x, y) in enumerate(zip(actual, expected, strict=True)):
            same(x, y, f"{path}[{n}]")
    else:
        both_nan = actual != actual and expected != expected
        assert actual == expected or both_nan, f"{path}: {actual!r} != {expected!r}"


def compare(doc: Any, **arguments: Any) -> Any:
    """The grafted ``doc.to_mongo(**arguments)`` (and, without arguments,
    ``to_stored.to_mongo(doc)``) against MongoEngine's own; returns MongoEngine's SON."""
    serialisers = [lambda: doc.to_mongo(**arguments)]
    if not arguments:
        serialisers.append(lambda: to_stored.to_mongo(doc))
    with mongoengine_only():
        try:
            expected = doc.to_mongo(**arguments)
        except Exception as error:  # the fast path must fail alike
            failure = error
        else:
            failure = None
    if failure is not None:
        for serialise in serialisers:
            with pytest.raises(type(failure)) as raised:
                serialise()
            assert str(raised.value) == str(failure)
        return None
    for serialise in serialisers:
        actual = serialise()
        same(actual, expected, type(doc).__name__)
        for key, value in expected.items():  # a new container where MongoEngine makes one
            stored = doc._data.get(_name_of(type(doc), key))
            assert (actual[key] is stored) == (value is stored), key
    return expected


def _name_of(cls: Any, db_field: str) -> str:
    for name, field in cls._fields.items():
        if field.db_field == db_field:
            return str(name)
    return db_field


# -- documents built from Python values ------------------------------------------------

SAVED_AUTHOR = OIDS.map(lambda o: Author(id=o, name="a"))
AUTHOR = st.one_of(SAVED_AUTHOR, SAVED_AUTHOR, SAVED_AUTHOR, st.just(Author(name="unsaved")))
CACHED = OIDS.map(lambda o: Cached(id=o, name="c"))
INNER_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "label": maybe_wrong(STRINGS),
        "n": maybe_wrong(st.integers(-9, 9)),
        "when": maybe_wrong(WHEN),
        "tags": maybe_wrong(st.lists(STRINGS, max_size=2)),
    },
)


@st.composite
def inner_documents(draw: st.DrawFn) -> Any:
    """An Inner or InnerChild built from (sometimes wrongly typed) Python values."""
    values = draw(INNER_VALUES)
    cls = draw(st.sampled_from([Inner, InnerChild]))
    if cls is InnerChild:
        values["extra"] = draw(st.floats(allow_nan=False))
    try:
        return cls(**values)
    except Exception:  # MongoEngine refuses the values themselves
        assume(False)


@st.composite
def deep_documents(draw: st.DrawFn) -> Any:
    inner = draw(inner_documents() | st.none())
    return Deep(inner=inner, items=draw(st.lists(inner_documents(), max_size=2)))


INNER_DOC = inner_documents()
DEEP_DOC = deep_documents()
ANY_VALUE = JUNK | INNER_DOC | SAVED_AUTHOR | CACHED | DEEP_DOC
LAZY = OIDS.map(lambda o: LazyReference(Author, o))

PYTHON: dict[str, st.SearchStrategy[Any]] = {
    "id": OIDS,
    "s": STRINGS | st.binary(max_size=3),
    "renamed": STRINGS,
    "url": st.just("https://example.com/x"),
    "email": st.just("a@example.com"),
    "i": st.integers(-(2**31), 2**31 - 1) | st.booleans() | st.just("12"),
    "big": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=False) | st.integers(-5, 5),
    "dec": st.decimals(places=2, allow_nan=False, allow_infinity=False) | st.just("1.5"),
    "dec128": st.decimals(places=3, allow_nan=False, allow_infinity=False)
    | st.builds(Decimal128, st.just("2.5")),
    "b": st.booleans() | st.integers(0, 1),
    "dt": WHEN | WHEN.map(datetime.datetime.date) | st.just("2026-01-02 03:04:05"),
    "d": WHEN.map(datetime.datetime.date) | WHEN,
    "cdt": WHEN,
    "oid": OIDS | OIDS.map(str),
    "emb": INNER_DOC,
    "deep": DEEP_DOC,
    "gemb": INNER_DOC | DEEP_DOC,
    "dyn": ANY_VALUE | st.lists(ANY_VALUE, max_size=2) | st.dictionaries(STRINGS, ANY_VALUE),
    "strings": st.lists(STRINGS, max_size=3),
    "ints": st.lists(st.integers(-9, 9) | st.booleans(), max_size=3),
    "anything": st.lists(ANY_VALUE, max_size=3),
    "embs": st.lists(INNER_DOC, max_size=3),
    "sorted_": st.lists(st.integers(0, 9), max_size=3),
    "dct": st.dictionaries(st.sampled_from(["x", "y"]), ANY_VALUE, max_size=2),
    "mp": st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 99), max_size=2),
    "ref": AUTHOR | OIDS | OIDS.map(lambda o: DBRef("materialize_authors", o)),
    "dbref": AUTHOR | OIDS.map(lambda o: DBRef("materialize_authors", o)),
    "gref": SAVED_AUTHOR | CACHED,
    "lazy": SAVED_AUTHOR | LAZY | OIDS,
    "glazy": SAVED_AUTHOR | LAZY,
    "cached": CACHED,
    "refs": st.lists(SAVED_AUTHOR | OIDS.map(lambda o: DBRef("materialize_authors", o))),
    "binary": st.binary(max_size=6),
    "colour": st.sampled_from(list(Colour)) | st.just("red"),
    "colours": st.lists(st.sampled_from(list(Colour)), max_size=3),
    "file": OIDS.map(lambda o: GridFSProxy(grid_id=o)) | st.builds(GridFSProxy),
    "image": OIDS.map(lambda o: ImageGridFsProxy(grid_id=o)),
    "uid": st.uuids() | st.uuids().map(str),
    "geo": st.just([1.0, 2.0]),
    "point": st.just([1.0, 2.0]) | st.just({"type": "Point", "coordinates": [1.0, 2.0]}),
    "line": st.just([[1.0, 2.0], [3.0, 4.0]]),
    "poly": st.just([[[0, 0], [0, 1], [1, 1], [0, 0]]]),
    "mpoint": st.just([[1.0, 2.0]]),
    "mline": st.just([[[1.0, 2.0], [3.0, 4.0]]]),
    "mpoly": st.just([[[[0, 0], [0, 1], [1, 1], [0, 0]]]]),
    "choice": st.sampled_from(["a", "b", "c"]),
}
PYTHON_CHILD = {**PYTHON, "child_only": STRINGS, "more": st.lists(st.integers(0, 9))}


def _documents(cls: Any, fields: dict[str, st.SearchStrategy[Any]]) -> Any:
    """(cls, constructor values): well-typed values or None, and sometimes one value of
    the wrong type (more would make almost every document fail)."""
    optional = {name: strategy | st.none() for name, strategy in fields.items()}
    wrong = st.none() | st.tuples(st.sampled_from(sorted(fields)), JUNK)

    def build(values: dict[str, Any], junk: Any, seq: int) -> tuple[Any, dict[str, Any]]:
        if junk is not None:
            values = {**values, junk[0]: junk[1]}
        return cls, {**values, "seq": seq}  # a missing seq would be counted in the database

    return st.builds(build, st.fixed_dictionaries({}, optional=optional), wrong, st.integers(0, 99))


HYPOTHESIS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@HYPOTHESIS
@given(made=_documents(Every, PYTHON) | _documents(EveryChild, PYTHON_CHILD))
def test_documents_built_from_python_values_serialise_alike(
    default_is_async: None, made: tuple[Any, dict[str, Any]]
) -> None:
    cls, values = made
    try:
        doc = cls(**values)
    except Exception:  # MongoEngine refuses the values themselves: nothing to serialise
        assume(False)
    compare(doc)


@HYPOTHESIS
@given(son=SONS)
def test_documents_loaded_from_stored_forms_serialise_alike(
    default_is_async: None, son: dict[str, Any]
) -> None:
    son = {**son, "seq": 1}
    cls = EveryChild if son.get("_cls") == "Every.EveryChild" else Every
    try:
        doc = LOAD(cls, son, True, False)
    except Exception:  # undeclared keys and the like: nothing to serialise
        assume(False)
    compare(doc)


@settings(max_examples=100, deadline=None)
@given(inner=INNER_DOC | DEEP_DOC)
def test_embedded_documents_alone_serialise_alike(inner: Any) -> None:
    expected = inner.to_mongo()  # EmbeddedDocument.to_mongo is not grafted
    same(to_stored.to_mongo(inner), expected, type(inner).__name__)


# -- explicit cases ----------------------------------------------------------------------


def test_common_documents_take_the_plan(
    default_is_async: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = Every(
        id=ObjectId(),
        s="x",
        i=3,
        f=2.5,
        b=True,
        oid=ObjectId(),
        dt=datetime.datetime(2026, 1, 2),
        strings=["a", "b"],
        emb=InnerChild(label="l", n=4, tags=["t"]),
        embs=[Inner(n=1), InnerChild(n=2)],
        geo=[1.0, 2.0],
        seq=5,
    )
    calls: list[Any] = []
    real = to_stored._generic
    monkeypatch.setattr(
        to_stored, "_generic", lambda field, *a: calls.append(field.name) or real(field, *a)
    )
    son = to_stored.to_mongo(doc)
    converted = sorted(calls)
    same(son, compare(doc))
    # only the fields whose conversion is not the identity (or a new empty list or dict)
    # ran their own to_mongo: the sequence, the sorted list, and the GridFS proxies that
    # every document with a FileField holds
    assert converted == ["file", "image", "seq", "sorted_"], converted
    assert list(son)[:2] == ["_id", "_cls"] and son["_cls"] == "Every"
    expected_emb = {"_cls": InnerChild._class_name, "label": "l", "num": 4, "tags": ["t"]}
    assert son["emb"] == expected_emb
    assert son["strings"] == ["a", "b"] and son["strings"] is not doc._data["strings"]


def test_inheritance_puts_cls_after_id(default_is_async: None) -> None:
    doc = EveryChild(id=ObjectId(), s="x", child_only="c", more=[1], seq=1)
    son = compare(doc)
    assert list(son)[:2] == ["_id", "_cls"] and son["_cls"] == "Every.EveryChild"
    assert son["co"] == "c" and son["more"] == [1]
    unsaved = to_stored.to_mongo(EveryChild(s="y", seq=2))
    assert "_id" not in unsaved and next(iter(unsaved)) == "_cls"


def test_embedded_documents_keep_their_cls_where_mongoengine_writes_it() -> None:
    class Pet(EmbeddedDocument):
        name = StringField()
        meta = {"allow_inheritance": True}

    class Dog(Pet):
        bark = StringField()

    class Plain(EmbeddedDocument):
        n = IntField()

    class Owner(Document):
        pet = EmbeddedDocumentField(Pet)
        pets = ListField(EmbeddedDocumentField(Pet))
        loose = ListField()  # MongoEngine adds the class name to embedded items here
        mapping = DictField()
        meta = {"collection": "dump_owners"}

    doc = Owner(pet=Dog(name="rex", bark="woof"), pets=[Pet(name="a"), Dog(name="b")])
    doc.loose = [Plain(n=1), Dog(name="c")]
    doc.mapping = {"p": Plain(n=2)}
    son = compare(doc)
    assert son["pet"] == SON([("_cls", Dog._class_name), ("name", "rex"), ("bark", "woof")])
    assert son["loose"][0] == {"n": 1, "_cls": "Plain"} and son["mapping"]["p"]["_cls"] == "Plain"


def test_references_by_dbref_flag(default_is_async: None) -> None:
    author = Author(id=ObjectId(), name="a")
    doc = Every(id=ObjectId(), ref=author, dbref=author, refs=[author], seq=1)
    son = compare(doc)
    assert son["ref"] == author.id and type(son["ref"]) is ObjectId
    assert son["dbref"] == DBRef("materialize_authors", author.id)
    assert son["refs"] == [author.id]  # the list's ReferenceField stores ids
    with pytest.raises(Exception, match="saved to the database"):
        to_stored.to_mongo(Every(ref=Author(name="unsaved"), seq=1))


def test_fields_with_their_own_to_mongo_keep_it() -> None:
    class Upper(StringField):
        def to_mongo(self, value: Any) -> Any:
            return value.upper()

    class Tagged(StringField):  # takes the keywords BaseDocument.to_mongo may pass
        def to_mongo(self, value: Any, use_db_field: bool = True, fields: Any = None) -> Any:
            return f"{value}:{use_db_field}:{fields}"

    class Doubled(IntField):
        def to_python(self, value: Any) -> Any:
            return value * 2 if isinstance(value, int) else value

    class Custom(Document):
        up = Upper()
        tagged = Tagged()
        doubled = Doubled()
        ups = ListField(Upper())
        meta = {"collection": "dump_custom"}

    doc = Custom(up="a", tagged="t", ups=["x", "y"])
    doc._data["doubled"] = 4  # set as stored, not through the field's conversion
    son = compare(doc)
    assert son == {"up": "A", "tagged": "t:True:None", "doubled": 8, "ups": ["X", "Y"]}
    only = compare(doc, fields=["tagged"])
    assert only == {"tagged": "t:True:[]"}


def test_dynamic_documents_use_mongoengine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Loose(DynamicDocument):
        name = StringField()
        meta = {"collection": "dump_dynamic"}

    class LooseInner(DynamicEmbeddedDocument):
        n = IntField()

    monkeypatch.setattr(to_stored, "_dump", lambda *a: pytest.fail("took the plan"))
    loose = Loose(name="n", extra=[1, 2], inner=LooseInner(n=1, more="m"))
    son = compare(loose)
    assert son == {
        "name": "n",
        "extra": [1, 2],
        "inner": {"n": 1, "more": "m", "_cls": "LooseInner"},
    }
    assert to_stored.plan_for(Loose) is None and to_stored.plan_for(LooseInner) is None


async def test_a_to_mongo_override_is_called_and_its_super_takes_the_plan(
    default_is_async: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stamped(Document):
        name = StringField()
        meta = {"collection": "dump_stamped_async"}

        def to_mongo(self, *args: Any, **kwargs: Any) -> Any:
            son = super().to_mongo(*args, **kwargs)
            son["stamp"] = 1
            return son

    planned: list[Any] = []
    real = to_stored._dump
    monkeypatch.setattr(to_stored, "_dump", lambda doc, *a: planned.append(doc) or real(doc, *a))
    doc = Stamped(name="s")
    assert compare(doc) == {"name": "s", "stamp": 1}
    assert planned == [doc, doc]  # to_stored.to_mongo and doc.to_mongo, both via the override


async def test_the_graft_takes_the_plan_only_on_async_aliases(
    default_is_async: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OnSync(Document):
        name = StringField()
        meta = {"collection": "dump_sync", "db_alias": "dump_sync_alias"}

    planned: list[Any] = []
    real = to_stored._dump
    monkeypatch.setattr(
        to_stored, "_dump", lambda doc, *a: planned.append(type(doc)) or real(doc, *a)
    )
    on_sync = OnSync(name="s").to_mongo()
    on_async = Author(name="a").to_mongo()
    inside = await greenlet_spawn(Author(name="b").to_mongo)
    assert planned == [Author, Author]
    assert on_sync == {"name": "s"} and on_async == {"name": "a"} and inside == {"name": "b"}
    assert Author(name="c").to_mongo(use_db_field=False) == {"name": "c"}  # MongoEngine's
    assert planned == [Author, Author]
    to_stored.to_mongo(OnSync(name="t"))  # called directly, the plan serves any class
    assert planned[-1] is OnSync


def test_fields_argument_selects_root_fields_and_embedded_paths(default_is_async: None) -> None:
    doc = Every(
        id=ObjectId(),
        s="x",
        emb=Inner(label="l", n=1, tags=["a"]),
        embs=[Inner(label="m", n=2)],
        cached=Cached(id=ObjectId(), name="c"),
        seq=1,
    )
    assert compare(doc, fields=["id"]) == {"_id": doc.id, "_cls": "Every"}
    son = compare(doc, fields=["s", "emb.label", "embs.n", "cached"])
    assert son["emb"] == {"_cls": "Inner", "label": "l"}
    assert son["embs"] == [{"_cls": "Inner", "num": 2}]
    compare(doc, fields=["emb"])
    compare(doc, fields=[])
    compare(doc, fields=("s",))
    compare(doc, use_db_field=True, fields=None)


def test_values_of_other_types_take_the_fields_own_conversion(default_is_async: None) -> None:
    doc = Every(id=ObjectId(), seq=1)
    doc._data.update(
        i=True, f=3, strings=("a", b"b"), oid=str(ObjectId()), big=5, dt=datetime.date(2026, 1, 2)
    )
    son = compare(doc)
    assert son["i"] == 1 and type(son["i"]) is int and type(son["f"]) is float
    assert son["strings"] == ["a", "b"] and type(son["big"]) is Int64
    assert type(son["oid"]) is ObjectId and son["dt"] == datetime.datetime(2026, 1, 2)
    doc._data["oid"] = "not an id"
    assert compare(doc) is None  # both raise MongoEngine's ValidationError


def test_gridfs_proxies_serialise_to_their_file_id(default_is_async: None) -> None:
    grid_id = ObjectId()
    doc = Every(file=GridFSProxy(grid_id=grid_id), image=ImageGridFsProxy(), seq=1)
    son = compare(doc)
    assert son["file"] == grid_id and "image" not in son


def test_none_and_null_fields(default_is_async: None) -> None:
    class Nullable(Document):
        kept = StringField(null=True)
        dropped = StringField()
        number = IntField(null=True, default=3)
        meta = {"collection": "dump_nullable"}

    doc = Nullable(kept=None, dropped=None, number=None)
    assert compare(doc) == {"kept": None, "number": None}
    assert list(compare(Nullable(id=ObjectId()))) == ["_id", "kept", "number"]


def test_a_document_with_its_own_field_order_falls_back() -> None:
    class Three(Document):
        a = StringField()
        b = StringField()
        c = StringField()
        meta = {"collection": "dump_three"}

    doc = Three(a="a", b="b", c="c")
    doc._fields_ordered = ("c", "a", "b")  # MongoEngine walks the instance's own order
    assert list(to_stored.to_mongo(doc)) == ["c", "a", "b"]
    same(to_stored.to_mongo(doc), MONGOENGINE(doc))
    copy = pickle.loads(pickle.dumps(Author(id=ObjectId(), name="a")))
    same(to_stored.to_mongo(copy), MONGOENGINE(copy))


async def test_sequence_fields_generate_their_value_as_mongoengine_does(
    mongodb_uri: str, db_name: str
) -> None:
    class Counted(Document):
        number = SequenceField(db_alias="dump_counter")
        label = StringField(default="x")
        meta = {"collection": "dump_counted", "db_alias": "dump_counter"}

    client = await connect_async(db_name, alias="dump_counter", host=mongodb_uri)
    try:
        doc = Counted()
        first = await greenlet_spawn(to_stored.to_mongo, doc)
        assert first == {"number": 1, "label": "x"} and doc._data["number"] == 1
        other = Counted()
        second = await greenlet_spawn(other.to_mongo)  # the graft, in the bridge
        with mongoengine_only():
            third = await greenlet_spawn(Counted().to_mongo)
        same(second, SON([("number", 2), ("label", "x")]))
        same(third, SON([("number", 3), ("label", "x")]))
        assert other._data["number"] == 2
        counters = await client[db_name]["mongoengine.counters"].find_one()
        assert counters["next"] == 3  # one increment per generated value, read back
    finally:
        await client.drop_database(db_name)
        await disconnect_async("dump_counter")


def test_uuid_decimal_and_reference_list_values(default_is_async: None) -> None:
    author = Author(id=ObjectId(), name="a")
    doc = Every(
        uid=uuid.uuid4(),
        dec=decimal.Decimal("1.25"),
        dec128=decimal.Decimal("2.5"),
        refs=[author, DBRef("materialize_authors", author.id)],
        anything=[author, Inner(n=1), Every(id=ObjectId()), "s"],
        dyn=Author(id=ObjectId()),
        seq=1,
    )
    compare(doc)
    options = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)
    stored = bson.decode(bson.encode(to_stored.to_mongo(doc), codec_options=options), options)
    assert stored["dec"] == 1.25 and stored["refs"] == [author.id, author.id]


def test_reference_field_declared_by_name() -> None:
    class Later(Document):
        parent = ReferenceField("DumpParent")
        meta = {"collection": "dump_later"}

    class DumpParent(Document):
        meta = {"collection": "dump_parents"}

    parent = DumpParent(id=ObjectId())
    assert compare(Later(parent=parent)) == {"parent": parent.id}
