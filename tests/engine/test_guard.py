"""The wrong-method guard, and the graft's own rules."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from mongoengine import Document, IntField, StringField
from mongoengine.queryset import QuerySet, QuerySetNoCache

import persistence.engine  # noqa: F401
from persistence.engine import graft
from persistence.engine.twins import TWINS, Owner, owner_classes, sync_to_twin

DOCUMENT_IO = sync_to_twin(Owner.DOCUMENT, Owner.DOCUMENT_CLASS)
QUERYSET_TWINS = sync_to_twin(Owner.QUERYSET)

INSTANCE_IO = ["save", "delete", "reload", "update", "modify", "cascade_save", "select_related"]
CLASS_IO = ["ensure_indexes", "drop_collection", "create_index", "list_indexes", "compare_indexes"]
QUERYSET_IO = [
    "count", "get", "first", "create", "insert", "update", "update_one", "upsert_one",
    "modify", "delete", "distinct", "sum", "average", "item_frequencies", "explain",
    "in_bulk", "with_id", "aggregate", "map_reduce", "exec_js", "to_json",
    "select_related", "rewind", "__iter__", "__next__", "__len__", "__bool__", "__getitem__",
]  # fmt: skip


class Gadget(Document):
    name = StringField()
    n = IntField(default=0)


class SyncGadget(Document):
    name = StringField()
    n = IntField(default=0)
    meta = {"db_alias": "sync", "collection": "gadget"}


FILE_PROXY_IO = ["put", "get", "read", "delete", "replace", "new_file", "write", "writelines",
                 "close"]  # fmt: skip


def test_twin_table_covers_every_known_io_method() -> None:
    assert set(INSTANCE_IO) <= set(sync_to_twin(Owner.DOCUMENT))
    assert set(CLASS_IO) <= set(sync_to_twin(Owner.DOCUMENT_CLASS))
    assert set(QUERYSET_IO) <= set(QUERYSET_TWINS)
    assert set(FILE_PROXY_IO) <= set(sync_to_twin(Owner.FILE_PROXY))
    assert sync_to_twin(Owner.LAZY_REFERENCE) == {"fetch": "async_fetch"}


def test_every_row_names_a_method_mongoengine_defines_on_its_owner() -> None:
    for row in TWINS:
        owners = owner_classes(row.owner)
        assert any(row.sync_name in vars(cls) for cls in owners), row


def test_every_twin_exists_as_a_coroutine_function() -> None:
    for twin in DOCUMENT_IO.values():
        assert inspect.iscoroutinefunction(getattr(Gadget, twin)), twin
    for twin in QUERYSET_TWINS.values():
        if twin.startswith("async_") and twin != "async_aggregate":  # awaitable or iterable
            assert inspect.iscoroutinefunction(getattr(QuerySet, twin)), twin
    for extra in ("async_to_list", "async_exists", "async_values", "async_values_list"):
        assert inspect.iscoroutinefunction(getattr(QuerySet, extra)), extra
    assert hasattr(QuerySet, "__aiter__") and hasattr(QuerySetNoCache, "__aiter__")


def _instance_calls(doc: Gadget) -> dict[str, Callable[[], Any]]:
    return {
        "save": doc.save,
        "delete": doc.delete,
        "reload": doc.reload,
        "update": lambda: doc.update(inc__n=1),
        "modify": lambda: doc.modify(set__n=5),
        "cascade_save": doc.cascade_save,
        "select_related": doc.select_related,
        "ensure_indexes": Gadget.ensure_indexes,
        "drop_collection": Gadget.drop_collection,
        "create_index": lambda: Gadget.create_index(["name"]),
        "list_indexes": Gadget.list_indexes,
        "compare_indexes": Gadget.compare_indexes,
    }


def _queryset_calls(qs: Any, doc: Gadget) -> dict[str, Callable[[], Any]]:
    return {
        "count": qs.count,
        "get": lambda: qs.get(name="one"),
        "first": qs.first,
        "create": lambda: qs.create(name="new"),
        "insert": lambda: qs.insert([Gadget(name="bulk")]),
        "update": lambda: qs.update(inc__n=1),
        "update_one": lambda: qs.update_one(inc__n=1),
        "upsert_one": lambda: qs.upsert_one(set__n=9),
        "modify": lambda: qs.modify(set__n=7),
        "delete": qs.delete,
        "distinct": lambda: qs.distinct("name"),
        "sum": lambda: qs.sum("n"),
        "average": lambda: qs.average("n"),
        "item_frequencies": lambda: qs.item_frequencies("name"),
        "explain": qs.explain,
        "in_bulk": lambda: qs.in_bulk([doc.id]),
        "with_id": lambda: qs.with_id(doc.id),
        "aggregate": lambda: qs.aggregate([]),
        "map_reduce": lambda: qs.map_reduce("function(){}", "function(){}", "inline"),
        "exec_js": lambda: qs.exec_js("function(){ return 1; }"),
        "to_json": qs.to_json,
        "select_related": qs.select_related,
        "rewind": qs.rewind,
        "__iter__": lambda: list(qs),
        "__next__": lambda: next(qs),
        "__len__": lambda: len(qs),
        "__bool__": lambda: bool(qs),
        "__getitem__": lambda: qs[0],
    }


async def _snapshot(db: Any) -> list[dict[str, Any]]:
    return await db["gadget"].find().sort("name").to_list()  # type: ignore[no-any-return]


async def test_every_sync_io_method_on_an_async_alias_raises_naming_its_twin(
    async_db: Any,
) -> None:
    doc = await Gadget(name="one").async_save()
    before = await _snapshot(async_db)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an un-awaited coroutine would warn
        for name, call in _instance_calls(doc).items():
            twin = DOCUMENT_IO[name]
            with pytest.raises(RuntimeError) as info:
                call()
            assert f"{twin}()" in str(info.value), name
            assert "cannot run on async connection 'default'" in str(info.value), name
        for name, call in _queryset_calls(Gadget.objects, doc).items():
            twin = QUERYSET_TWINS[name]
            with pytest.raises(RuntimeError) as info:
                call()
            message = str(info.value)
            assert "cannot run on async connection 'default'" in message, name
            assert ("async for" in message) if twin == "__aiter__" else (twin in message), name
    assert await _snapshot(async_db) == before


async def test_the_message_names_the_twin_exactly(async_db: Any) -> None:
    class User(Document):
        name = StringField()

    with pytest.raises(RuntimeError) as info:
        User(name="x").save()
    assert str(info.value) == (
        "User.save() cannot run on async connection 'default': use await user.async_save()"
    )
    with pytest.raises(RuntimeError) as info:
        User.objects.count()
    assert str(info.value) == (
        "User.objects.count() cannot run on async connection 'default': "
        "use await User.objects.async_count()"
    )


async def test_async_methods_on_a_sync_alias_point_to_connect_async(sync_db: Any) -> None:
    doc = SyncGadget(name="s")
    with pytest.raises(RuntimeError, match="connect_async"):
        await doc.async_save()
    with pytest.raises(RuntimeError, match="connect_async"):
        await SyncGadget.objects.async_count()
    with pytest.raises(RuntimeError, match="connect_async"):
        [g async for g in SyncGadget.objects]
    assert sync_db["gadget"].count_documents({}) == 0


def test_a_sync_alias_keeps_working_unchanged(sync_db: Any) -> None:
    gadget = SyncGadget(name="a").save()
    SyncGadget(name="b").save()
    assert SyncGadget.objects.get(name="a").id == gadget.id
    SyncGadget.objects(name="a").update_one(inc__n=2)
    gadget.reload()
    assert gadget.n == 2
    assert [g.name for g in SyncGadget.objects.order_by("name")] == ["a", "b"]
    assert len(SyncGadget.objects) == 2 and bool(SyncGadget.objects)
    gadget.delete()
    assert [d["name"] for d in sync_db["gadget"].find()] == ["b"]


async def test_repr_and_slicing_do_no_io(async_db: Any) -> None:
    for i in range(5):
        await Gadget(name=f"g{i}", n=i).async_save()
    assert "not evaluated" in repr(Gadget.objects)
    page = Gadget.objects.order_by("n")[1:3]
    assert [g.name for g in await page.async_to_list()] == ["g1", "g2"]


def test_graft_is_idempotent_and_refuses_clashes() -> None:
    before = Document.async_save
    graft.activate()
    assert Document.async_save is before
    with pytest.raises(graft.GraftError, match="already exists"):
        graft._add(Document, "save", lambda self: None)
