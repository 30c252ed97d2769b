"""Entities read straight from stored documents agree with the Document's way
(``_from_son`` then the mapping), for every stored document the direct read accepts."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from bson import DBRef, ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st
from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    DynamicDocument,
    EmailField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    ReferenceField,
    StringField,
)

import persistence.engine  # noqa: F401
from persistence.fields import IdReferenceField, VersionField
from persistence.mapping import DocumentMapper
from persistence.stored_entities import direct_plan, direct_values


class Target(Document):
    meta = {"collection": "stored_entities_targets"}


class Stored(Document):
    name = StringField(db_field="n")
    email = EmailField()
    age = IntField(default=7)
    ratio = FloatField(null=True)
    active = BooleanField(default=True)
    tags = ListField(StringField())
    numbers = ListField(IntField(), db_field="nums")
    owner_id = ObjectIdField()
    target = ReferenceField(Target)
    partner_id = IdReferenceField("Target")
    version = VersionField()
    meta = {"collection": "stored_entities", "allow_inheritance": True}


class StoredChild(Stored):
    pass


@attrs.define(kw_only=True)
class Entity:
    id: Any = None
    name: Any = None
    email: Any = None
    age: Any = None
    ratio: Any = None
    active: Any = None
    tags: Any = None
    numbers: Any = None
    owner_id: Any = None
    target: Any = None
    partner_id: Any = None
    version: Any = None


MAPPER: DocumentMapper[Entity, Stored] = DocumentMapper(
    Entity, Stored, frozenset({"owner_id", "target", "partner_id"})
)
PLAN = direct_plan(Stored, MAPPER.fields)

oids = st.builds(ObjectId)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    oids,
    st.lists(st.one_of(st.text(max_size=3), st.integers(0, 9)), max_size=3),
    st.builds(lambda o: DBRef("stored_entities_targets", o), oids),
)
KEYS = ["n", "email", "age", "ratio", "active", "tags", "nums", "owner_id", "target"]
KEYS += ["partner_id", "version"]
typical = {
    "n": st.text(max_size=5),
    "email": st.text(max_size=5),
    "age": st.integers(-(2**40), 2**40),
    "ratio": st.floats(allow_nan=False),
    "active": st.booleans(),
    "tags": st.lists(st.text(max_size=3), max_size=3),
    "nums": st.lists(st.integers(0, 9), max_size=3),
    "owner_id": oids,
    "target": st.one_of(oids, st.builds(lambda o: DBRef("stored_entities_targets", o), oids)),
    "partner_id": oids,
    "version": st.integers(0, 9),
}


@st.composite
def stored_documents(draw: st.DrawFn) -> dict[str, Any]:
    son: dict[str, Any] = {"_id": draw(st.one_of(oids, oids, st.text(max_size=3)))}
    for key in KEYS:
        choice = draw(st.sampled_from(["typical"] * 12 + ["absent", "absent", "any"]))
        if choice == "typical":
            son[key] = draw(typical[key])
        elif choice == "any":
            son[key] = draw(anything)
    if draw(st.integers(0, 9)) == 0:
        son["_cls"] = draw(st.sampled_from(["Stored", "Stored.StoredChild", "Other"]))
    if draw(st.integers(0, 19)) == 0:
        son["undeclared"] = 1
    return son


def _general(son: dict[str, Any]) -> Any:
    """MongoEngine's own loading (``_from_son`` outside the bridge), then the mapping."""
    return MAPPER.to_entity(Stored._from_son(dict(son)))


@settings(max_examples=400, deadline=None)
@given(stored_documents())
def test_a_direct_read_is_what_the_document_way_gives(son: dict[str, Any]) -> None:
    assert PLAN is not None
    values = direct_values(PLAN, dict(son))
    try:
        general = _general(son)
    except Exception:
        assert values is None  # the Document's way refuses it: so does the direct read
        return
    if values is not None:
        direct = Entity(**values)
        assert direct == general
        for name in MAPPER.fields:  # the same types too (1 == 1.0 == True in Python)
            assert type(getattr(direct, name)) is type(getattr(general, name)), name
    assert MAPPER.from_son(dict(son)) == general


def test_typical_documents_are_read_directly() -> None:
    assert PLAN is not None
    son = {"_id": ObjectId(), "n": "a", "age": 3, "tags": ["x"], "target": ObjectId()}
    values = direct_values(PLAN, son)
    assert values is not None
    assert values["age"] == 3 and values["active"] is True and values["numbers"] == []
    assert values["target"] == str(son["target"]) and values["ratio"] is None


class WithDate(Document):
    name = StringField()
    when = DateTimeField()
    meta = {"collection": "stored_entities_dates"}


class Dynamic(DynamicDocument):
    name = StringField()
    meta = {"collection": "stored_entities_dynamic"}


class Custom(StringField):
    def to_python(self, value: Any) -> Any:
        return str(value).upper()


class WithCustom(Document):
    name = Custom()
    meta = {"collection": "stored_entities_custom"}


@pytest.mark.parametrize(
    "document_cls, names",
    [(WithDate, ("name", "when")), (Dynamic, ("name",)), (WithCustom, ("name",))],
)
def test_other_fields_take_the_documents_way(document_cls: Any, names: tuple[str, ...]) -> None:
    assert direct_plan(document_cls, names) is None


class Plain(Document):
    name = StringField()
    email = EmailField()
    age = IntField(default=7)
    ratio = FloatField(null=True)
    active = BooleanField(default=True)
    tags = ListField(StringField())
    numbers = ListField(IntField())
    owner_id = ObjectIdField()
    target = ReferenceField(Target)
    partner_id = IdReferenceField("Target")
    version = VersionField()
    meta = {"collection": "stored_entities_plain"}


PLAIN: DocumentMapper[Entity, Plain] = DocumentMapper(
    Entity, Plain, frozenset({"owner_id", "target", "partner_id"})
)
hex_ids = st.builds(lambda o: str(o), oids)
entity_values = {
    "name": st.one_of(st.none(), st.text(max_size=5), st.integers(0, 3)),
    "email": st.one_of(st.none(), st.just("a@example.com"), st.text(max_size=5)),
    "age": st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats(-5, 5), st.booleans()),
    "ratio": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-5, 5)),
    "active": st.one_of(st.none(), st.booleans(), st.integers(0, 1)),
    "tags": st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=3)),
    "numbers": st.one_of(st.none(), st.lists(st.integers(0, 2**40), max_size=3)),
    "owner_id": st.one_of(st.none(), hex_ids),
    "target": st.one_of(st.none(), hex_ids),
    "partner_id": st.one_of(st.none(), hex_ids),
    "version": st.one_of(st.none(), st.integers(0, 9)),
}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(entity_values), hex_ids)
def test_an_entity_as_stored_is_what_reading_its_stored_form_gives(
    values: dict[str, Any], entity_id: str
) -> None:
    from bson import CodecOptions
    from mongoengine.errors import ValidationError

    from persistence.mapping import stored_form

    entity = Entity(id=entity_id, **values)
    document, stored = PLAIN.to_document_and_stored(entity)
    try:
        document.validate()
    except ValidationError:
        return  # never written
    full = PLAIN.from_son(stored_form(document.to_mongo(), CodecOptions()))
    if stored is not None:
        assert stored == full
        for name in PLAIN.fields:
            assert type(getattr(stored, name)) is type(getattr(full, name)), name


def test_plain_entities_are_known_as_stored_without_a_round_trip() -> None:
    entity = Entity(id=str(ObjectId()), name="a", age=3, tags=["x"], target=str(ObjectId()))
    _, stored = PLAIN.to_document_and_stored(entity)
    assert stored is not None and stored.active is True and stored.numbers == []
    assert stored.target == entity.target and stored.ratio is None
    _, renamed = MAPPER.to_document_and_stored(entity)
    assert renamed is None  # fields stored under other names: read after the write


# -- what MongoEngine's loading applies beyond to_python (issue 21, item 2) ------------


class Stripped(StringField):
    def __set__(self, instance: Any, value: Any) -> None:
        super().__set__(instance, value.strip() if isinstance(value, str) else value)


class WithStripped(Document):
    name = Stripped()
    meta = {"collection": "stored_entities_stripped"}


class OwnInit(Document):
    meta = {"abstract": True}

    def __init__(self, *args: Any, **values: Any) -> None:
        super().__init__(*args, **values)
        self._data["name"] = "from __init__"


class InheritsInit(OwnInit):
    name = StringField()
    meta = {"collection": "stored_entities_init"}


class OwnFromSon(Document):
    meta = {"abstract": True}

    @classmethod
    def _from_son(cls, son: Any, *args: Any, **kwargs: Any) -> Any:
        document = super()._from_son(son, *args, **kwargs)
        document._data["name"] = "from _from_son"
        return document


class InheritsFromSon(OwnFromSon):
    name = StringField()
    meta = {"collection": "stored_entities_from_son"}


@attrs.define(kw_only=True)
class Named:
    id: Any = None
    name: Any = None


@pytest.mark.parametrize(
    ("document_cls", "expected"),
    [
        (WithStripped, "Ada"),
        (InheritsInit, "from __init__"),
        (InheritsFromSon, "from _from_son"),
    ],
)
def test_what_loading_applies_is_read(document_cls: Any, expected: str) -> None:
    mapper: DocumentMapper[Named, Any] = DocumentMapper(Named, document_cls, frozenset())
    son = {"_id": ObjectId(), "name": "  Ada  "}
    assert direct_plan(document_cls, ("name",)) is None
    assert mapper.from_son(dict(son)).name == expected
    assert document_cls._from_son(dict(son)).name == expected  # MongoEngine's own


def test_init_receivers_take_the_documents_way() -> None:
    from mongoengine import signals

    son = {"_id": ObjectId(), "n": "Ann", "age": 1}
    assert PLAN is not None and direct_values(PLAN, son) is not None

    def older(sender: Any, document: Any, **_: Any) -> None:
        document._data["age"] = 40

    def heard(sender: Any, **_: Any) -> None:
        pass

    for signal in (signals.post_init, signals.pre_init):
        signal.connect(older if signal is signals.post_init else heard)
        try:
            assert direct_values(PLAN, son) is None
            expected = 40 if signal is signals.post_init else 1
            assert MAPPER.from_son(dict(son)).age == expected
        finally:
            signal.receivers.clear()
