"""Checked mode (``PERSISTENCE_CHECKED=1``) catches a fast path that differs from
MongoEngine's own path: each test seeds one divergence into a fast path (a dropped field,
an unwrapped container, a skipped signal, another write, another error...) and runs the
checked variant the switch installs, which must raise ``FastPathDifference`` naming the
fast path, the class and the difference; the same path without the seed passes.  The
last tests show the environment variable switches the variants on, and that with it off
the fast paths are the plain functions.

The checked variants are called directly here, so these tests run in the normal run
too; CI also runs the engine, contract, adapter and unit tests with the switch on.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from bson import ObjectId
from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    DynamicDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
    signals,
)

from persistence.engine import (
    checked,
    checked_paths,
    from_stored,
    queryset_copies,
    raw_finds,
    reads,
    to_stored,
    writes,
)
from persistence.engine.checked import FastPathDifference
from persistence.engine.class_collections import async_collection_of
from persistence.mapping import DocumentMapper


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """The native writes record their calls (as with ``PERSISTENCE_CHECKED=1``)."""
    monkeypatch.setattr(checked, "ENABLED", True)


@pytest.fixture(autouse=True)
def seeded_differences() -> Iterator[list[str]]:
    """The differences a test seeds are expected: checked out of the shared record."""
    checked.clear_differences()
    found: list[str] = []
    yield found
    found.extend(checked.differences())
    checked.clear_differences()


class Part(EmbeddedDocument):
    label = StringField()
    size = IntField(default=1)


class Item(Document):
    name = StringField()
    qty = IntField()
    tags = ListField(StringField())
    lines = ListField(DictField())
    part = EmbeddedDocumentField(Part)
    meta = {"collection": "checked_items"}


SON_OF_ITEM = {
    "_id": ObjectId(),
    "name": "pen",
    "qty": 3,
    "tags": ["a"],
    "lines": [{"n": 1}],
    "part": {"label": "cap", "size": 2},
}


def _plain(function: Any) -> Any:
    """The fast path itself (with ``PERSISTENCE_CHECKED=1`` the module holds its checked
    variant, which wraps it)."""
    return getattr(function, "__wrapped__", function)


def _raises(fast_path: str, cls: str, *words: str) -> Any:
    pattern = f"fast path {fast_path} differs from MongoEngine's own path for {cls}"
    return pytest.raises(FastPathDifference, match=pattern)


# -- materialising -------------------------------------------------------------------------


def test_a_field_dropped_while_materialising_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_stored._checked_from_son(Item, dict(SON_OF_ITEM)).qty == 3  # unseeded: same
    build = from_stored._build

    def dropping(plan: Any, son: Any, created: bool) -> Any:
        doc = build(plan, son, created)
        if isinstance(doc, Item):
            doc._data["qty"] = None
        return doc

    monkeypatch.setattr(from_stored, "_build", dropping)
    with _raises("from_stored.from_son", "Item") as raised:
        from_stored._checked_from_son(Item, dict(SON_OF_ITEM))
    assert "_data/qty" in str(raised.value) and "('NoneType', None)" in str(raised.value)


def test_a_container_left_unwrapped_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from mongoengine.base.datastructures import BaseList

    build = from_stored._build

    def wrapping_wrongly(plan: Any, son: Any, created: bool) -> Any:
        doc = build(plan, son, created)
        if isinstance(doc, Item):  # MongoEngine's _from_son leaves a plain list
            doc._data["tags"] = BaseList(doc._data["tags"], doc, "tags")
        return doc

    monkeypatch.setattr(from_stored, "_build", wrapping_wrongly)
    with _raises("from_stored.from_son", "Item") as raised:
        from_stored._checked_from_son(Item, dict(SON_OF_ITEM))
    assert "BaseList" in str(raised.value)


def test_another_error_while_materialising_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(plan: Any, son: Any, created: bool) -> Any:
        raise KeyError("qty")

    monkeypatch.setattr(from_stored, "_build", failing)
    with _raises("from_stored.from_son", "Item") as raised:
        from_stored._checked_from_son(Item, dict(SON_OF_ITEM))
    assert "fast path raised KeyError" in str(raised.value)


def test_a_signal_not_sent_while_materialising_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append(sender)

    signals.post_init.connect(receiver)
    try:
        monkeypatch.setattr(from_stored, "init_receivers", lambda: False)  # seeded: ignored
        monkeypatch.setattr(signals.post_init, "send", signals.post_init.send)  # restored after
        checked.install_signal_recorders([signals.post_init])
        with _raises("from_stored.from_son", "Item") as raised:
            from_stored._checked_from_son(Item, dict(SON_OF_ITEM))
    finally:
        signals.post_init.disconnect(receiver)
    assert "signals delivered" in str(raised.value) and "post_init" in str(raised.value)
    assert heard  # MongoEngine's path delivered it


class Stamped(Document):
    name = StringField()
    made = DateTimeField(default=datetime.datetime.now)  # another value at every call
    meta = {"collection": "checked_stamped"}


def test_callable_defaults_are_no_difference_but_stored_values_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(20):  # the clock moves between the two loads
        assert from_stored._checked_from_son(Stamped, {"_id": ObjectId(), "name": "a"}).made
    stored = {"_id": ObjectId(), "name": "a", "made": datetime.datetime(2024, 1, 1)}
    build = from_stored._build

    def stamping(plan: Any, son: Any, created: bool) -> Any:
        doc = build(plan, son, created)
        doc._data["made"] = datetime.datetime.now()  # the stored value replaced
        return doc

    monkeypatch.setattr(from_stored, "_build", stamping)
    with _raises("from_stored.from_son", "Stamped") as raised:
        from_stored._checked_from_son(Stamped, dict(stored))
    assert "made" in str(raised.value)


# -- serialising -------------------------------------------------------------------------


def _item() -> Item:
    return Item(name="pen", qty=3, tags=["a"], lines=[{"n": 1}], part=Part(label="cap"))


def test_a_field_dropped_while_serialising_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = to_stored.plan_for(Item)
    assert plan is not None
    assert to_stored._checked_dump(_item(), plan, None)["qty"] == 3  # unseeded: the same
    fast = to_stored._fast_dump

    def dropping(doc: Any, plan: Any, fields: Any) -> Any:
        son = fast(doc, plan, fields)
        if type(doc) is Item:
            del son["tags"]
        return son

    monkeypatch.setattr(to_stored, "_fast_dump", dropping)
    with _raises("to_stored.to_mongo", "Item") as raised:
        to_stored._checked_dump(_item(), plan, None)
    assert "tags" in str(raised.value)


def test_a_value_of_another_type_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = to_stored.plan_for(Item)
    fast = to_stored._fast_dump

    def floating(doc: Any, plan: Any, fields: Any) -> Any:
        son = fast(doc, plan, fields)
        if type(doc) is Item:
            son["qty"] = float(son["qty"])  # 3.0 == 3 in Python, not in BSON
        return son

    monkeypatch.setattr(to_stored, "_fast_dump", floating)
    with _raises("to_stored.to_mongo", "Item") as raised:
        to_stored._checked_dump(_item(), plan, None)
    assert "('float', 3.0)" in str(raised.value) and "('int', 3)" in str(raised.value)


# -- queryset copies, raw finds, direct entity reads ----------------------------------


def test_a_copy_not_made_is_caught(monkeypatch: pytest.MonkeyPatch, any_async_db: Any) -> None:
    from mongoengine.queryset.base import BaseQuerySet

    copy_into = queryset_copies._checked(BaseQuerySet._clone_into.__wrapped__)
    source = Item.objects.order_by("name")
    copy_into(source, type(source)(Item, Item._get_collection()))  # unseeded: the same
    plain = queryset_copies._copy_into

    def sharing(self: Any, new_qs: Any) -> Any:
        plain(self, new_qs)
        new_qs._ordering = self._ordering  # the list shared, not copied
        return new_qs

    monkeypatch.setattr(queryset_copies, "_copy_into", sharing)
    with _raises("queryset_copies._clone_into", "QuerySet") as raised:
        copy_into(source, type(source)(Item, Item._get_collection()))
    assert "_ordering" in str(raised.value) and "a copy made" in str(raised.value)


def test_a_raw_queryset_without_its_limit_is_caught(
    monkeypatch: pytest.MonkeyPatch, any_async_db: Any
) -> None:
    raw_finds._checked_raw_queryset(Item, {"qty": 3}, order_by=("name",), skip=1, limit=2)
    fast = raw_finds._fast_raw_queryset

    def unlimited(document_cls: Any, query: Any, **options: Any) -> Any:
        queryset = fast(document_cls, query, **options)
        queryset._limit = None
        return queryset

    monkeypatch.setattr(raw_finds, "_fast_raw_queryset", unlimited)
    with _raises("raw_finds.raw_queryset", "Item") as raised:
        raw_finds._checked_raw_queryset(Item, {"qty": 3}, limit=2)
    assert "_limit" in str(raised.value)


@attrs.define(kw_only=True)
class ItemEntity:
    id: Any = None
    name: Any = None
    qty: Any = None


class PlainItem(Document):
    name = StringField()
    qty = IntField()
    meta = {"collection": "checked_plain_items"}


def test_a_wrong_direct_read_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from persistence import mapping

    mapper: DocumentMapper[ItemEntity, PlainItem] = DocumentMapper(
        ItemEntity, PlainItem, frozenset()
    )
    son = {"_id": ObjectId(), "name": "pen", "qty": 3}
    assert mapping._checked_from_son(mapper, dict(son)).qty == 3
    direct = mapping.direct_values

    def upper(plan: Any, son: Any) -> Any:
        values = direct(plan, son)
        return None if values is None else {**values, "name": values["name"].upper()}

    monkeypatch.setattr(mapping, "direct_values", upper)
    with _raises("mapping.from_son \\(direct read\\)", "PlainItem") as raised:
        mapping._checked_from_son(mapper, dict(son))
    assert "'PEN'" in str(raised.value) and "'pen'" in str(raised.value)


def test_a_filter_compiled_per_shape_otherwise_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.registry import registry
    from domain.library import Book
    from persistence.query import filter_shapes
    from persistence.query.plan import QueryPlanner
    from persistence.specs import F

    shapes = QueryPlanner(registry.registration(Book))._filters
    spec = (F("title") == "a") & (F("version") >= 2)
    assert filter_shapes._checked_filter(shapes, spec) == {"title": "a", "version": {"$gte": 2}}
    filled = filter_shapes._filled

    def reversed_values(template: Any, values: list[Any]) -> Any:
        return filled(template, values[::-1])

    monkeypatch.setattr(filter_shapes, "_filled", reversed_values)
    with pytest.raises(FastPathDifference, match="differs from the long way") as raised:
        filter_shapes._checked_filter(shapes, spec)
    assert "filter_shapes.filter" in str(raised.value) and "for Book" in str(raised.value)


# -- native reads and iteration ----------------------------------------------------


async def test_a_native_read_giving_another_document_is_caught(any_async_db: Any) -> None:
    await Item(name="pen", qty=3).async_save()
    get = checked_paths.checked_read("reads.async_get", "get", _plain(reads.queryset_async_get))
    assert (await get(Item.objects, name="pen")).qty == 3

    async def off_by_one(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = await _plain(reads.queryset_async_get)(self, *args, **kwargs)
        found._data["qty"] += 1
        return found

    wrong = checked_paths.checked_read("reads.async_get", "get", off_by_one)
    with _raises("reads.async_get", "Item") as raised:
        await wrong(Item.objects, name="pen")
    assert "('int', 4)" in str(raised.value) and "('int', 3)" in str(raised.value)


async def test_a_native_read_raising_another_error_is_caught(any_async_db: Any) -> None:
    async def not_found(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise self._document.DoesNotExist("no such item")

    await Item(name="pen", qty=3).async_save()
    wrong = checked_paths.checked_read("reads.async_first", "first", not_found)
    with _raises("reads.async_first", "Item") as raised:
        await wrong(Item.objects)
    assert "fast path raised DoesNotExist" in str(raised.value)


async def test_iteration_converting_otherwise_is_caught(any_async_db: Any) -> None:
    await Item(name="pen", qty=3, tags=["a"]).async_save()
    queryset = Item.objects.clone()
    queryset._cursor  # noqa: B018  (built as the async iterator builds it)
    raw = await async_collection_of(Item).find_one({})
    load = from_stored.loader(Item)
    same = checked_paths.checked_convert(queryset, lambda son: load(son, True))
    assert same(dict(raw)).name == "pen"
    wrong = checked_paths.checked_convert(queryset, lambda son: load({**son, "name": "x"}, True))
    with _raises("iteration \\(async for\\)", "Item"):
        wrong(dict(raw))


# -- native writes: compared, never written twice ------------------------------------------


async def test_a_save_writing_otherwise_is_caught_and_written_once(
    monkeypatch: pytest.MonkeyPatch, any_async_db: Any, recording: None
) -> None:
    save = checked_paths.checked_document_write(
        "writes.async_save", "save", _plain(writes.document_async_save)
    )
    item = _item()
    await save(item)
    assert await Item.objects.async_count() == 1  # compared, written once
    to_mongo = to_stored.to_mongo

    def dropping(doc: Any) -> Any:
        son = to_mongo(doc)
        son.pop("tags", None)
        return son

    monkeypatch.setattr(writes.to_stored, "to_mongo", dropping)
    with _raises("writes.async_save", "Item") as raised:
        await save(_item())
    assert "writes: the fast path sent insert_one" in str(raised.value)
    assert await Item.objects.async_count() == 2  # the fast path's write only


async def test_a_save_leaving_another_state_is_caught(any_async_db: Any, recording: None) -> None:
    async def forgetful(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await _plain(writes.document_async_save)(self, *args, **kwargs)
        self._created = True  # as if the document were still new
        return result

    save = checked_paths.checked_document_write("writes.async_save", "save", forgetful)
    with _raises("writes.async_save", "Item") as raised:
        await save(_item())
    assert "_created" in str(raised.value)


async def test_a_save_skipping_a_signal_is_caught(
    monkeypatch: pytest.MonkeyPatch, any_async_db: Any, recording: None
) -> None:
    heard: list[Any] = []

    def receiver(sender: Any, document: Any, **kwargs: Any) -> None:
        heard.append(document)

    monkeypatch.setattr(writes, "_quiet", lambda cls, sent: True)  # seeded: receivers ignored
    monkeypatch.setattr(signals.pre_save, "send", signals.pre_save.send)  # restored after
    signals.pre_save.connect(receiver)
    checked.install_signal_recorders([signals.pre_save])
    try:
        save = checked_paths.checked_document_write(
            "writes.async_save", "save", _plain(writes.document_async_save)
        )
        with _raises("writes.async_save", "Item") as raised:
            await save(_item())
    finally:
        signals.pre_save.disconnect(receiver)
    assert "signals delivered" in str(raised.value) and "pre_save" in str(raised.value)
    assert await Item.objects.async_count() == 1


async def test_an_update_sending_another_update_is_caught(
    any_async_db: Any, recording: None
) -> None:
    await _item().async_save()

    async def doubled(self: Any, **kwargs: Any) -> Any:
        return await _plain(writes.queryset_async_update_one)(self, inc__qty=2)

    same = checked_paths.checked_queryset_write(
        "writes.QuerySet.async_update_one", "update_one", _plain(writes.queryset_async_update_one)
    )
    assert await same(Item.objects(name="pen"), inc__qty=1) == 1
    wrong = checked_paths.checked_queryset_write(
        "writes.QuerySet.async_update_one", "update_one", doubled
    )
    with _raises("writes.QuerySet.async_update_one", "Item") as raised:
        await wrong(Item.objects(name="pen"), inc__qty=1)
    assert "update_one" in str(raised.value)
    stored = await async_collection_of(Item).find_one({})
    assert stored["qty"] == 3 + 1 + 2  # each update sent once


class Address(EmbeddedDocument):
    city = StringField()


class Person(DynamicDocument):
    name = StringField()
    meta = {"collection": "checked_people"}


class Twice(Document):
    one = EmbeddedDocumentField(Part)
    many = ListField(EmbeddedDocumentField(Part))
    meta = {"collection": "checked_twice"}


async def test_no_difference_where_there_is_none(any_async_db: Any, recording: None) -> None:
    """What MongoEngine's suite showed: a dynamic document holds its values in its
    ``__dict__`` too, and one embedded document can sit in two places; the copy made for
    MongoEngine's run keeps both as they are."""
    save = checked_paths.checked_document_write(
        "writes.async_save", "save", _plain(writes.document_async_save)
    )
    person = Person(name="Ross", address=Address(city="London"))
    await save(person)
    loaded = await Person.objects.async_get(id=person.id)
    loaded.address.city = "Lundenne"
    await save(loaded)  # the embedded change: cleared on the document that was saved
    assert (await Person.objects.async_get(id=person.id)).address.city == "Lundenne"
    part = Part(label="shared")
    await save(Twice(one=part, many=[part]))
    assert checked.compared()["writes.async_save"] >= 3


# -- the switch ------------------------------------------------------------------------------

_PROBE = """
import persistence.engine
from persistence.engine import checked, to_stored, from_stored, reads, writes, queryset_copies
from persistence.mapping import DocumentMapper
from mongoengine.queryset.base import BaseQuerySet
print(checked.enabled())
print(from_stored.from_son is from_stored._checked_from_son)
print(to_stored._dump is to_stored._checked_dump)
print(reads.queryset_async_get.__module__)
print(writes.document_async_save.__module__)
print(DocumentMapper.from_son.__name__)
"""


def _probe(value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PERSISTENCE_CHECKED"}
    if value is not None:
        env["PERSISTENCE_CHECKED"] = value
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_the_environment_variable_switches_checked_mode_on() -> None:
    on = ["True", "True", "True", "persistence.engine.checked_paths"]
    assert _probe("1") == [*on, "persistence.engine.checked_paths", "_checked_from_son"]
    off = ["False", "False", "False", "persistence.engine.reads"]
    assert _probe(None) == [*off, "persistence.engine.writes", "from_son"]
    assert _probe("0") == _probe(None)


_SWALLOWING_TEST = """
import persistence.engine
from mongoengine import Document, IntField
from persistence.engine import from_stored


class Swallowed(Document):
    qty = IntField()
    meta = {"collection": "swallowed"}


def test_a_caller_swallows_the_difference(monkeypatch):
    build = from_stored._build

    def dropping(plan, son, created):
        doc = build(plan, son, created)
        doc._data["qty"] = None
        return doc

    monkeypatch.setattr(from_stored, "_build", dropping)
    try:
        from_stored.from_son(Swallowed, {"_id": 1, "qty": 3})
    except AssertionError:
        pass  # the code under test hides it
"""


def test_the_plugin_fails_a_test_whose_difference_was_swallowed(tmp_path: Any) -> None:
    (tmp_path / "test_swallowing.py").write_text(_SWALLOWING_TEST)
    env = {**os.environ, "PERSISTENCE_CHECKED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rE", "-p", "no:cacheprovider",
         "-c", os.devnull, "-o",
         "asyncio_default_fixture_loop_scope=function", str(tmp_path)],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout  # reported at the test's teardown
    assert "1 error" in done.stdout
    assert "the fast path from_stored.from_son differs" in done.stdout
    assert "checked mode: 1 comparisons" in done.stdout
