"""The fast paths against MongoEngine on cases they were not written for.

Hypothesis builds stored documents for classes the fast paths were not designed around:
inheritance three levels deep (``allow_inheritance``, a renamed field in a subclass), an
abstract base overriding ``__init__``, field classes overriding ``to_python``,
``to_mongo``, ``__set__`` and ``validate``, a custom field, embedded documents (and their
subclasses) inside lists inside dicts inside lists, maps, ``EmbeddedDocumentListField``,
a ``DynamicDocument``, and odd stored data: missing fields, undeclared keys, ``None``
where a list is expected, values of other types, a ``_cls`` of a subclass or of no
class.  Each document goes through the checked variants of the materialising and
serialising fast paths (what ``PERSISTENCE_CHECKED=1`` installs), which run MongoEngine's
own ``_from_son``/``to_mongo`` beside them and raise on any difference in the documents'
whole state (or in the error).  The native writes are checked the same way (their writes
replayed to MongoEngine's ``save``/``delete``) for a set of such documents, saved new,
and changed in place through nested containers, on the server and on mongomock.
"""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongoengine import (
    DictField,
    Document,
    DynamicDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    MapField,
    StringField,
)
from mongoengine.base.fields import BaseField

import persistence.engine  # noqa: F401
from persistence.engine import checked, checked_paths, from_stored, to_stored, writes
from persistence.engine.checked import FastPathDifference
from persistence.engine.class_collections import async_collection_of

# -- classes the fast paths were not written for -----------------------------------------


class Leaf(EmbeddedDocument):
    label = StringField()
    n = IntField()
    meta = {"allow_inheritance": True}


class SubLeaf(Leaf):
    extra = ListField(IntField())


class Upper(StringField):
    def to_python(self, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Stripped(StringField):
    def __set__(self, instance: Any, value: Any) -> None:
        super().__set__(instance, value.strip() if isinstance(value, str) else value)


class Doubled(IntField):
    def to_mongo(self, value: Any) -> Any:
        return value * 2 if isinstance(value, int) else value


class Picky(StringField):
    def validate(self, value: Any) -> None:
        if value == "bad":
            self.error("picky refuses 'bad'")
        super().validate(value)


class Point(BaseField):
    """A custom field: a pair stored as a two-item list."""

    def to_mongo(self, value: Any) -> Any:
        return None if value is None else [value[0], value[1]]

    def to_python(self, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) and len(value) == 2 else value


class Root(Document):
    name = StringField()
    up = Upper()
    strip = Stripped()
    doubled = Doubled()
    picky = Picky()
    point = Point()
    tree = ListField(DictField(ListField(EmbeddedDocumentField(Leaf))))
    by_key = DictField(ListField(EmbeddedDocumentField(Leaf)))
    mapped = MapField(EmbeddedDocumentField(Leaf))
    leaves = EmbeddedDocumentListField(Leaf)
    leaf = EmbeddedDocumentField(Leaf)
    nums = ListField(IntField())
    meta = {"collection": "differential_roots", "allow_inheritance": True}


class Child(Root):
    age = IntField(db_field="a")


class GrandChild(Child):
    tags = ListField(StringField())


class Shouting(Document):
    meta = {"abstract": True}

    def __init__(self, *args: Any, **values: Any) -> None:
        super().__init__(*args, **values)
        if isinstance(self._data.get("name"), str):
            self._data["name"] = self._data["name"].upper()


class Loud(Shouting):
    name = StringField()
    nums = ListField(IntField())
    meta = {"collection": "differential_loud"}


class Loose(DynamicDocument):
    name = StringField()
    leaf = EmbeddedDocumentField(Leaf)
    meta = {"collection": "differential_loose"}


# -- stored documents, typical and odd --------------------------------------------------

texts = st.text(max_size=4)
ints = st.integers(-5, 2**33)
odd = st.one_of(
    st.none(), st.booleans(), ints, st.floats(allow_nan=False), texts, st.builds(ObjectId),
    st.lists(ints, max_size=2), st.dictionaries(texts, ints, max_size=2),
)  # fmt: skip


@st.composite
def leaves(draw: st.DrawFn) -> Any:
    leaf: dict[str, Any] = {}
    if draw(st.booleans()):
        leaf["label"] = draw(st.one_of(texts, odd))
    if draw(st.booleans()):
        leaf["n"] = draw(st.one_of(ints, ints, odd))
    kind = draw(st.sampled_from(["none", "none", "Leaf", "Leaf.SubLeaf", "Nope"]))
    if kind != "none":
        leaf["_cls"] = kind
        if kind == "Leaf.SubLeaf" and draw(st.booleans()):
            leaf["extra"] = draw(st.one_of(st.lists(ints, max_size=2), odd))
    if draw(st.integers(0, 15)) == 0:
        leaf["undeclared"] = 1
    return leaf if draw(st.integers(0, 12)) else draw(odd)


def _lists(inner: Any) -> Any:
    return st.lists(inner, max_size=3)


TYPICAL: dict[str, Any] = {
    "name": texts,
    "up": texts,
    "strip": st.builds(lambda s: f" {s} ", texts),
    "doubled": ints,
    "picky": st.sampled_from(["ok", "bad", ""]),
    "point": st.lists(ints, min_size=2, max_size=2),
    "tree": _lists(st.dictionaries(texts, _lists(leaves()), max_size=2)),
    "by_key": st.dictionaries(texts, _lists(leaves()), max_size=2),
    "mapped": st.dictionaries(texts, leaves(), max_size=2),
    "leaves": _lists(leaves()),
    "leaf": leaves(),
    "nums": _lists(ints),
    "a": ints,
    "tags": _lists(texts),
}
CLASS_NAMES = ["Root", "Root.Child", "Root.Child.GrandChild", "Elsewhere"]


@st.composite
def stored(draw: st.DrawFn, keys: list[str], class_names: list[str] | None) -> dict[str, Any]:
    son: dict[str, Any] = {"_id": draw(st.builds(ObjectId))}
    for key in keys:
        choice = draw(st.sampled_from(["typical"] * 6 + ["absent", "absent", "null", "odd"]))
        if choice == "typical":
            son[key] = draw(TYPICAL[key])
        elif choice == "null":
            son[key] = None
        elif choice == "odd":
            son[key] = draw(odd)
    if class_names and draw(st.integers(0, 3)):
        son["_cls"] = draw(st.sampled_from(class_names))
    if draw(st.integers(0, 9)) == 0:
        son["undeclared"] = draw(odd)
    return son


ROOT_KEYS = list(TYPICAL)
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _load_and_dump(cls: Any, son: dict[str, Any]) -> None:
    """Both fast paths, checked against MongoEngine's own on the same input."""
    try:
        document = from_stored._checked_from_son(cls, son)
    except FastPathDifference:
        raise
    except Exception:  # MongoEngine refuses it too (the check compared both errors)
        return
    plan = to_stored.plan_for(type(document))
    if plan is not None and document._fields_ordered is plan.fields_ordered:
        try:
            to_stored._checked_dump(document, plan, None)
        except FastPathDifference:
            raise
        except Exception:  # MongoEngine's to_mongo fails alike (compared)
            pass


@pytest.fixture(autouse=True)
def no_difference_kept() -> Any:
    checked.clear_differences()
    yield
    assert checked.differences() == []


@SETTINGS
@given(son=stored(ROOT_KEYS, CLASS_NAMES), created=st.booleans())
def test_inherited_documents_with_overridden_fields_and_nested_containers(
    son: dict[str, Any], created: bool
) -> None:
    for cls in (Root, Child, GrandChild):
        _load_and_dump(cls, dict(son))


@SETTINGS
@given(son=stored(["name", "nums"], None))
def test_a_class_whose_abstract_base_overrides_init(son: dict[str, Any]) -> None:
    _load_and_dump(Loud, son)


@SETTINGS
@given(son=stored(["name", "leaf", "nums", "tags", "point"], None))
def test_a_dynamic_document(son: dict[str, Any]) -> None:
    _load_and_dump(Loose, son)


def test_the_fast_paths_took_part() -> None:
    """The cases above reach the plans (they are not all handed to MongoEngine)."""
    assert from_stored.plan_for(Root) is not None and to_stored.plan_for(Root) is not None
    assert from_stored.plan_for(Loud) is None  # __init__ overridden: MongoEngine's path
    assert from_stored.plan_for(Leaf) is not None and from_stored.plan_for(SubLeaf) is not None


# -- native writes on such documents -----------------------------------------------------


class Shelf(Document):
    """Only MongoEngine's fields: the native writes take these themselves."""

    name = StringField()
    tree = ListField(DictField(ListField(EmbeddedDocumentField(Leaf))))
    by_key = DictField(ListField(EmbeddedDocumentField(Leaf)))
    mapped = MapField(EmbeddedDocumentField(Leaf))
    leaves = EmbeddedDocumentListField(Leaf)
    leaf = EmbeddedDocumentField(Leaf)
    nums = ListField(IntField())
    anything = ListField()
    meta = {"collection": "differential_shelves", "allow_inheritance": True}


class TallShelf(Shelf):
    height = IntField(db_field="h")


def _documents() -> list[Any]:
    return [
        Shelf(name="a", nums=[1], anything=[{"x": [1, {"y": 2}]}, [3]]),
        Shelf(tree=[{"k": [Leaf(label="l", n=1), SubLeaf(label="s", extra=[1])]}]),
        TallShelf(height=3, by_key={"k": [SubLeaf(n=2)]}, mapped={"m": Leaf(label="m")}),
        TallShelf(leaves=[Leaf(n=1), SubLeaf(extra=[])], leaf=SubLeaf(n=9), anything=[Leaf()]),
        Root(name="a", up="x", strip=" s ", doubled=2, picky="ok", point=(1, 2), nums=[1]),
        GrandChild(tags=["t"], leaves=[Leaf(n=1), SubLeaf(extra=[])], leaf=SubLeaf(n=9)),
        Root(picky="bad"),  # refused by its field's validate
    ]


def _change(document: Any) -> None:
    """In-place changes through nested containers, as a service would make them."""
    for branch in document.tree:
        for items in branch.values():
            for leaf in items:
                leaf.n = (leaf.n or 0) + 1
    for items in document.by_key.values():
        items.append(Leaf(label="new"))
    for leaf in document.leaves:
        leaf.label = "changed"
    document.nums.append(7)
    if document.leaf is not None:
        document.leaf.n = 42


def _plain(function: Any) -> Any:
    return getattr(function, "__wrapped__", function)


@pytest.mark.parametrize("index", range(len(_documents())))
async def test_native_writes_of_such_documents(
    any_async_db: Any, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persistence.engine import reads

    monkeypatch.setattr(checked, "ENABLED", True)  # the native writes record their calls
    save = checked_paths.checked_document_write(
        "writes.async_save", "save", _plain(writes.document_async_save)
    )
    get = checked_paths.checked_read("reads.async_get", "get", _plain(reads.queryset_async_get))
    document = _documents()[index]
    cls = next(k for k in type(document).__mro__ if Document in k.__bases__)  # Root, Shelf
    before = checked.compared().get("writes.async_save", 0)
    try:
        await save(document)
    except FastPathDifference:
        raise
    except Exception:  # refused alike by both paths (compared)
        assert await cls.objects.async_count() == 0
        return
    loaded = await get(cls.objects, id=document.id)
    assert type(loaded) is type(document)
    _change(loaded)
    await save(loaded)
    stored = await async_collection_of(cls).find_one({"_id": document.id})
    assert stored is not None and stored["nums"][-1] == 7
    reloaded = await cls.objects.async_get(id=document.id)  # the nested changes were saved
    assert [leaf.label for leaf in reloaded.leaves] == ["changed"] * len(loaded.leaves)
    assert all(items[-1].label == "new" for items in reloaded.by_key.values())
    assert [leaf.n for b in reloaded.tree for v in b.values() for leaf in v] == [
        leaf.n for b in loaded.tree for v in b.values() for leaf in v
    ]
    await loaded.async_delete()
    assert await cls.objects.async_count() == 0
    if cls is Shelf:  # plain classes: the native paths ran and were compared
        assert checked.compared()["writes.async_save"] == before + 2
