"""The grafted ``_clone_into`` makes exactly the copies MongoEngine's own makes."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import Document, IntField, ListField, Q, StringField
from mongoengine.errors import OperationError
from mongoengine.queryset.base import BaseQuerySet
from mongoengine.queryset.field_list import QueryFieldList
from mongoengine.queryset.visitor import QCombination
from pymongo import ReadPreference

import persistence.engine  # noqa: F401
from persistence.engine.facades import Facade
from persistence.engine.queryset_copies import COPIED


class Animal(Document):
    name = StringField()
    legs = IntField()
    tags = ListField(StringField())
    meta = {"collection": "copies_animals", "allow_inheritance": True, "ordering": ["name"]}


class Dog(Animal):
    pass


def _querysets() -> list[Any]:
    base = Animal.objects
    return [
        base,
        Dog.objects,
        base(name="rex"),
        base(Q(name="a") | Q(legs__gte=3), tags="x"),
        base.only("name").order_by("-legs").limit(3).skip(1),
        base.exclude("tags").hint([("name", 1)]).collation({"locale": "en"}),
        base.batch_size(5).comment("c").max_time_ms(10).timeout(False),
        base.read_preference(ReadPreference.SECONDARY).read_concern({"level": "local"}),
        base.scalar("name", "legs"),
        base.as_pymongo().allow_disk_use(True),
        base.where("this.legs > 2"),
        base.search_text("dog"),
        base.none(),
        base.no_dereference(),
        base[2:2],
        base.no_cache(),
    ]


def _value(value: Any) -> Any:
    """A comparable picture of a copied value (query trees and field lists by content)."""
    if isinstance(value, (Q, QCombination, QueryFieldList)):
        return type(value), {k: _value(v) for k, v in vars(value).items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, Facade):  # a cursor built by a chained method: a clone of it
        return type(value)
    return value


def _copies(source: Any, target: Any) -> dict[str, tuple[Any, bool]]:
    """Each copied attribute's value and whether it is the source's object itself."""
    return {
        name: (_value(getattr(target, name)), getattr(target, name) is getattr(source, name))
        for name in (*COPIED, "_BaseQuerySet__auto_dereference", "_cursor_obj")
    }


@pytest.fixture
def querysets(async_db: Any) -> list[Any]:
    return _querysets()


@pytest.mark.parametrize("index", range(16))
def test_clone_into_equals_mongoengine_clone_into(querysets: list[Any], index: int) -> None:
    source = querysets[index]
    original = BaseQuerySet._clone_into.__wrapped__  # type: ignore[attr-defined]
    ours = source._clone_into(type(source)(source._document, source._collection_obj))
    theirs = original(source, type(source)(source._document, source._collection_obj))
    assert _copies(source, ours) == _copies(source, theirs)
    assert ours._query_obj.to_query(Animal) == theirs._query_obj.to_query(Animal)
    every = {name: _value(value) for name, value in vars(ours).items()}
    assert every == {name: _value(value) for name, value in vars(theirs).items()}
    assert ours._query == theirs._query


def test_clones_do_not_share_mutable_state(async_db: Any) -> None:
    first = Animal.objects(name="a").only("name")
    second = first.filter(legs=4).only("legs")
    first._cls_query["extra"] = 1
    assert "extra" not in second._cls_query
    assert first._query_obj.to_query(Animal) == {"name": "a"}
    assert second._query_obj.to_query(Animal) == {"name": "a", "legs": 4}
    assert first._loaded_fields.as_dict() == {"_cls": 1, "name": 1}


def test_clone_into_a_non_queryset_raises_mongoengine_error(async_db: Any) -> None:
    with pytest.raises((OperationError, AttributeError)) as raised:
        Animal.objects._clone_into(object())
    original = BaseQuerySet._clone_into.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(type(raised.value)):
        original(Animal.objects, object())
