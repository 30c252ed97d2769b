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

import persistence  # noqa: F401
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
    from persistence.engine.materialize import from_son

    return MAPPER.to_entity(from_son(Stored, dict(son)))


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
