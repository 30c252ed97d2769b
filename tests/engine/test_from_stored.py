"""The materialisation fast path builds exactly what MongoEngine's ``_from_son`` builds.

Random BSON documents over every field type MongoEngine ships (right types, wrong types,
None, missing keys, undeclared keys, embedded and inherited documents) go through both
paths; the two objects must agree in class, ``_data`` (order, types, values),
``_changed_fields``, ``_created``, ``_initialised``, ``_dynamic_fields``, instance
``__dict__``, embedded ``_instance`` links and ``to_mongo()``, or both must raise the
same error.
"""

from __future__ import annotations

import decimal
import uuid
from functools import partial
from typing import Any

import bson
import pytest
from bson import ObjectId
from every_field import DEEP, INNER, SONS, Deep, Every, Inner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine import Document, DynamicDocument, EmbeddedDocument, StringField, signals
from mongoengine.base.document import BaseDocument
from mongoengine.base.fields import BaseField

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import from_stored, greenlet_spawn

ORIGINAL = BaseDocument._from_son.__wrapped__  # MongoEngine's own _from_son


class Loose(Document):
    name = StringField()
    meta = {"collection": "materialize_loose", "strict": False}


class Dyn(DynamicDocument):
    name = StringField()
    meta = {"collection": "materialize_dyn"}


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
            from_stored.from_son(cls, dict(son), True, created)
        assert str(raised.value) == str(error)
        return None
    actual = from_stored.from_son(cls, dict(son), True, created)
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

    monkeypatch.setattr(from_stored, "_fallback", refuse)
    doc = from_stored.from_son(Every, son)
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
    monkeypatch.setattr(from_stored, "_fallback", lambda *a: calls.append(a) or ORIGINAL(*a))
    from_stored.from_son(Every, son, False)

    def receiver(sender: Any, document: Any, **kwargs: Any) -> None:
        document.seen = True

    signals.post_init.connect(receiver, sender=Every)
    try:
        doc = from_stored.from_son(Every, son)
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

    load = from_stored.loader(Custom)
    assert load({"_id": ObjectId(), "name": "x"}, True).name == "custom"
    assert from_stored.plan_for(Custom) is None


async def test_from_son_inside_the_bridge_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    son = bson.decode(bson.encode({"_id": ObjectId(), "s": "x", "deep": {"inner": {"num": 2}}}))
    seen: list[Any] = []
    real = from_stored.from_son
    monkeypatch.setattr(from_stored, "from_son", lambda *a: seen.append(a[0]) or real(*a))
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
