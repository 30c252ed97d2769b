"""``async_save`` and ``async_update``/``async_update_one`` (queryset) run natively (no
bridge) where MongoEngine's logic allows; ``async_insert``, ``async_delete``,
``Document.async_update`` and ``async_aggregate`` run MongoEngine's own method in the bridge
(their fast paths did not pay: docs/performance.md).  Here every case runs twice on the
same starting data, once through the async twin and once through MongoEngine's own sync
method in the bridge, and the results, errors, documents' state and the stored data must
agree.  A counter on the bridge shows which path each twin took."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId
from mongoengine import (
    CASCADE,
    Document,
    DynamicDocument,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    NotUniqueError,
    OperationError,
    ReferenceField,
    SaveConditionError,
    StringField,
    ValidationError,
    signals,
)

from persistence.engine import async_run_in_transaction, greenlet_spawn, twin_factories
from persistence.engine.class_collections import async_collection_of


class Part(EmbeddedDocument):
    label = StringField(required=True)
    size = IntField(default=1)


class Thing(Document):
    name = StringField(required=True, unique=True)
    n = IntField(db_field="num", min_value=0)
    tags = ListField(StringField())
    part = EmbeddedDocumentField(Part)
    note = StringField()
    meta = {"collection": "native_things", "allow_inheritance": True}


class SubThing(Thing):
    extra = StringField()


class Sharded(Document):
    region = StringField(required=True)
    n = IntField()
    meta = {"collection": "native_sharded", "shard_key": ("region",)}


class Loose(DynamicDocument):
    name = StringField()
    meta = {"collection": "native_loose"}


_CLASSES = (Thing, Sharded, Loose)


@pytest.fixture
async def bridge_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the sync methods the twins ran in the bridge (empty: native)."""
    calls: list[str] = []
    spawn = twin_factories.greenlet_spawn

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(args[1], "__name__", "?") if len(args) > 1 else "?")
        return await spawn(fn, *args, **kwargs)

    monkeypatch.setattr(twin_factories, "greenlet_spawn", counting)
    return calls


@pytest.fixture
async def db(any_async_db: Any) -> Any:
    for cls in _CLASSES:  # prepared (indexes made) before any comparison
        await cls.async_ensure_indexes()
    return any_async_db


def _plain(value: Any) -> Any:
    """``value`` with generated ObjectIds replaced (they differ between the two runs)."""
    if isinstance(value, ObjectId):
        return "<oid>"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _state(value: Any) -> Any:
    if isinstance(value, Document):
        return (
            type(value),
            _plain(value.to_mongo().to_dict()),
            value._created,
            sorted(getattr(value, "_changed_fields", ["<unset>"])),
            value.pk is not None,
        )
    if hasattr(value, "raw_result"):  # full_result=True
        raw = {k: v for k, v in value.raw_result.items() if k not in _SERVER_CLOCK}
        return ("result", _plain(raw), value.matched_count, value.upserted_id is not None)
    if isinstance(value, list):
        return [_state(v) for v in value]
    return _plain(value)


_SERVER_CLOCK = frozenset({"$clusterTime", "operationTime", "electionId", "opTime"})


async def _stored(doc_ids: list[Any]) -> Any:
    rows = []
    for cls in _CLASSES:
        async for raw in async_collection_of(cls).find({}, sort=[("_id", 1)]):
            rows.append((cls.__name__, raw["_id"] in doc_ids, _plain(raw)))
    return sorted(rows, key=repr)


async def _clear() -> None:
    for cls in _CLASSES:
        await async_collection_of(cls).delete_many({})


Setup = Callable[[], Awaitable[list[Any]]]
Operation = Callable[[list[Any], bool], Awaitable[Any]]


async def _run(setup: Setup, operation: Operation, native: bool) -> Any:
    await _clear()
    objects = await setup()
    try:
        outcome: Any = ("ok", _state(await operation(objects, native)))
    except Exception as error:
        outcome = ("error", type(error), re.sub("[0-9a-f]{24}", "<oid>", str(error)))
    ids = [obj.pk for obj in objects if isinstance(obj, Document)]
    return outcome, [_state(obj) for obj in objects], await _stored(ids)


async def _both(setup: Setup, operation: Operation, calls: list[str]) -> Any:
    """Run ``operation`` on fresh ``setup()`` data through the bridge, then natively."""
    general = await _run(setup, operation, native=False)
    calls.clear()
    native = await _run(setup, operation, native=True)
    assert native == general
    return native


def _call(obj: Any, name: str, native: bool, *args: Any, **kwargs: Any) -> Awaitable[Any]:
    if native:
        return getattr(obj, f"async_{name}")(*args, **kwargs)
    return greenlet_spawn(getattr(obj, name), *args, **kwargs)


async def _nothing() -> list[Any]:
    return []


async def _saved() -> list[Any]:
    docs = [
        Thing(name="a", n=1, tags=["x"], part=Part(label="p"), note="keep"),
        Thing(name="b", n=2),
        SubThing(name="s", n=3, extra="e"),
        Sharded(region="eu", n=1),
        Loose(name="l", colour="red"),
    ]
    for doc in docs:
        await doc.async_save()
    return docs


async def _loaded() -> list[Any]:
    await _saved()
    return [
        await Thing.objects.async_get(name="a"),
        await Thing.objects.async_get(name="s"),
        await Sharded.objects.async_get(region="eu"),
        await Loose.objects.async_get(name="l"),
    ]


# -- async_save --------------------------------------------------------------------------


def _new(**kwargs: Any) -> Setup:
    async def setup() -> list[Any]:
        await _saved()
        return [Thing(**kwargs)]

    return setup


@pytest.mark.parametrize(
    ("setup", "options"),
    [
        (_new(name="new", n=5, tags=["t"], part=Part(label="q")), {}),
        (_new(name="new", id=ObjectId("65a000000000000000000001")), {}),  # replace, then insert
        (_new(name="new", id=ObjectId("65a000000000000000000001")), {"force_insert": True}),
        (_new(name="a"), {}),  # unique index: NotUniqueError
        (_new(name="new", n=-1), {}),  # ValidationError
        (_new(n=1), {}),  # required field missing
        (_new(name="new", n=-1), {"validate": False}),
        (_new(name="new"), {"write_concern": {"w": 1}}),
        (_new(name="new"), {"cascade": False, "signal_kwargs": {"x": 1}}),
    ],
)
async def test_async_save_of_a_new_document_equals_save(
    db: Any, bridge_calls: list[str], setup: Setup, options: dict[str, Any]
) -> None:
    async def save(objects: list[Any], native: bool) -> Any:
        return await _call(objects[0], "save", native, **options)

    await _both(setup, save, bridge_calls)
    assert bridge_calls == []


async def test_async_save_over_an_existing_id_replaces_it(db: Any, bridge_calls: list[str]) -> None:
    async def setup() -> list[Any]:
        docs = await _saved()
        return [Thing(id=docs[0].id, name="replaced")]  # _created: find_one_and_replace

    async def save(objects: list[Any], native: bool) -> Any:
        return await _call(objects[0], "save", native)

    outcome, _, stored = await _both(setup, save, bridge_calls)
    assert outcome[0] == "ok" and bridge_calls == []
    assert next(row for row in stored if row[1])[2]["name"] == "replaced"


async def test_a_duplicate_key_raises_not_unique_as_save_does(
    db: Any, bridge_calls: list[str]
) -> None:
    async def save(objects: list[Any], native: bool) -> Any:
        return await _call(objects[0], "save", native)

    outcome, _, _ = await _both(_new(name="a"), save, bridge_calls)
    assert outcome[:2] == ("error", NotUniqueError) and bridge_calls == []


def _change(edit: Callable[[list[Any]], None], **options: Any) -> Operation:
    async def operation(objects: list[Any], native: bool) -> Any:
        edit(objects)
        return [await _call(obj, "save", native, **options) for obj in objects]

    return operation


def _edit_all(docs: list[Any]) -> None:
    docs[0].n = 10
    docs[0].note = None  # $unset
    docs[0].tags.append("y")
    docs[0].part.size = 7
    docs[1].extra = "changed"
    docs[2].n = 5
    docs[3].colour = "blue"
    docs[3].shape = "round"


@pytest.mark.parametrize(
    "operation",
    [
        _change(_edit_all),
        _change(lambda docs: None),  # nothing changed: no write
        _change(lambda docs: setattr(docs[0], "name", "b")),  # unique: NotUniqueError
        _change(lambda docs: setattr(docs[0], "n", -5)),  # ValidationError
        _change(_edit_all, save_condition={"n": 1}),  # only the first matches
        _change(_edit_all, save_condition={"n__gte": 0}),
        _change(_edit_all, write_concern={"w": 1}),
    ],
)
async def test_async_save_of_changed_documents_equals_save(
    db: Any, bridge_calls: list[str], operation: Operation
) -> None:
    outcome, _, _ = await _both(_loaded, operation, bridge_calls)
    assert bridge_calls == []
    assert outcome[0] in {"ok", "error"}


async def test_a_failed_save_condition_raises_as_save_does(
    db: Any, bridge_calls: list[str]
) -> None:
    async def operation(objects: list[Any], native: bool) -> Any:
        objects[0].n = 50
        return await _call(objects[0], "save", native, save_condition={"n": 99})

    outcome, _, _ = await _both(_loaded, operation, bridge_calls)
    assert outcome[:2] == ("error", SaveConditionError)


async def test_async_save_joins_the_transaction(async_db: Any) -> None:
    await Thing.async_ensure_indexes()
    kept = Thing(name="kept")
    with pytest.raises(RuntimeError, match="abort"):
        async with async_run_in_transaction():
            await Thing(name="dropped").async_save()
            assert await Thing.objects(name="dropped").async_count() == 1
            raise RuntimeError("abort")
    async with async_run_in_transaction():
        await kept.async_save()
        kept.n = 3
        await kept.async_save()
    assert [t.name for t in await Thing.objects.async_to_list()] == ["kept"]
    assert (await Thing.objects.async_get(name="kept")).n == 3


async def test_native_writes_are_counted_as_queries(async_db: Any) -> None:
    from mongoengine import async_query_counter

    await Thing.async_ensure_indexes()
    thing = Thing(name="counted")
    async with async_query_counter() as queries:
        await thing.async_save()
        thing.n = 1
        await thing.async_save()
        await Thing.objects(name="counted").async_update_one(inc__n=1)
        await thing.async_delete()
    assert queries == 4
    assert await Thing.objects.async_count() == 0


# -- the general path where MongoEngine's logic needs it -----------------------------------


async def test_signal_receivers_take_the_general_path(db: Any, bridge_calls: list[str]) -> None:
    seen: list[tuple[str, str]] = []

    def pre_save(sender: Any, document: Any, **kwargs: Any) -> None:
        seen.append(("pre_save", document.name))
        Thing.objects(name="a").update_one(inc__n=100)  # sync I/O: only in the bridge

    def post_delete(sender: Any, document: Any, **kwargs: Any) -> None:
        seen.append(("post_delete", document.name))

    await _saved()
    signals.pre_save.connect(pre_save, sender=Thing)
    signals.post_delete.connect(post_delete)
    try:
        thing = Thing(name="signalled")
        await thing.async_save()
        await thing.async_delete()
        assert await Thing.objects(name="b").async_delete() == 1
    finally:
        signals.pre_save.disconnect(pre_save, sender=Thing)
        signals.post_delete.disconnect(post_delete)
    assert seen == [("pre_save", "signalled"), ("post_delete", "signalled"), ("post_delete", "b")]
    assert (await Thing.objects.async_get(name="a")).n == 101
    assert bridge_calls == ["save", "delete", "delete"]
    bridge_calls.clear()
    await Sharded(region="us").async_save()  # receivers of another class: native
    assert bridge_calls == []


async def test_overrides_cascades_and_delete_rules_take_the_general_path(
    db: Any, bridge_calls: list[str]
) -> None:
    class Checked(Document):
        name = StringField()
        meta = {"collection": "native_checked"}

        def clean(self) -> None:  # sync I/O in clean(): only in the bridge
            if Thing.objects(name=self.name).count():
                raise ValidationError("name taken by a Thing")

    class Holder(Document):
        thing = ReferenceField(Thing, reverse_delete_rule=CASCADE)
        meta = {"collection": "native_holders"}

    try:
        docs = await _saved()
        with pytest.raises(ValidationError, match="taken"):
            await Checked(name="a").async_save()
        await Checked(name="free").async_save()
        assert bridge_calls == ["save", "save"]
        bridge_calls.clear()
        await Holder(thing=docs[0]).async_save(cascade=True)
        assert bridge_calls == ["save"]
        bridge_calls.clear()
        await docs[0].async_delete()  # CASCADE to the holder
        assert bridge_calls == ["delete"]
        assert await Holder.objects.async_count() == 0
        await Holder(thing=docs[1]).async_save()
        assert await Thing.objects(name="b").async_delete() == 1
        assert await Holder.objects.async_count() == 0
        await Holder.async_drop_collection()
        await Checked.async_drop_collection()
    finally:
        for cls in (Thing, SubThing):  # the rule goes with the test's class
            cls._meta["delete_rules"].clear()


# -- async_update / async_update_one ------------------------------------------------------


def _update(make: Callable[[], Any], name: str, **kwargs: Any) -> Operation:
    async def operation(objects: list[Any], native: bool) -> Any:
        return await _call(make(), name, native, **kwargs)

    return operation


@pytest.mark.parametrize(
    "operation",
    [
        _update(lambda: Thing.objects(name="a"), "update_one", inc__n=1),
        _update(lambda: Thing.objects, "update", inc__n=1, push__tags="z"),
        _update(lambda: Thing.objects(n__gte=2), "update", set__note="many"),
        _update(lambda: Thing.objects(name="zzz"), "update_one", set__n=1),
        _update(lambda: Thing.objects(name="zzz"), "update_one", upsert=True, set__n=1),
        _update(lambda: SubThing.objects(name="t"), "update_one", upsert=True, set__n=1),
        _update(lambda: SubThing.objects(name="t"), "update", upsert=True),
        _update(lambda: Thing.objects(name="a"), "update_one", full_result=True, set__n=9),
        _update(lambda: Thing.objects(name="a"), "update_one", set__name="b"),  # NotUniqueError
        _update(lambda: Thing.objects(name="a"), "update_one", inc__name=1),  # server error
        _update(lambda: Thing.objects(name="a"), "update"),  # no update: OperationError
        _update(lambda: Thing.objects.none(), "update", set__n=1),
        _update(lambda: Thing.objects(name="a"), "update", write_concern={"w": 1}, set__n=3),
        _update(
            lambda: Thing.objects(name="a"),
            "update",
            write_concern={"w": 1},
            read_concern={"level": "local"},
            set__n=3,
        ),
        _update(lambda: Thing.objects(name="a"), "update", __raw__={"$set": {"num": 42}}),
        _update(lambda: Thing.objects(name="a"), "update_one", unset__note=1),
    ],
)
async def test_async_update_equals_update(
    db: Any, bridge_calls: list[str], operation: Operation
) -> None:
    await _both(_saved, operation, bridge_calls)
    assert bridge_calls == []


async def test_document_async_update_equals_update(db: Any, bridge_calls: list[str]) -> None:
    async def operation(objects: list[Any], native: bool) -> Any:
        return [
            await _call(objects[0], "update", native, inc__n=2, set__note="u"),
            await _call(objects[2], "update", native, set__n=8),  # shard key in the query
        ]

    outcome, _, _ = await _both(_loaded, operation, bridge_calls)
    assert outcome == ("ok", [1, 1]) and bridge_calls == ["update", "update"]  # no native path

    async def unsaved(objects: list[Any], native: bool) -> Any:
        return await _call(Thing(name="x"), "update", native, set__n=1)

    outcome, _, _ = await _both(_loaded, unsaved, bridge_calls)
    assert outcome[:2] == ("error", OperationError)


# -- async_delete -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        _update(lambda: Thing.objects(name="a"), "delete"),
        _update(lambda: Thing.objects, "delete"),
        _update(lambda: SubThing.objects, "delete"),
        _update(lambda: Thing.objects(n__gte=2), "delete", write_concern={"w": 1}),
        _update(lambda: Thing.objects(name="zzz"), "delete"),
    ],
)
async def test_queryset_async_delete_equals_delete(
    db: Any, bridge_calls: list[str], operation: Operation
) -> None:
    await _both(_saved, operation, bridge_calls)
    assert bridge_calls == ["delete"]  # MongoEngine's own delete


async def test_document_async_delete_equals_delete(db: Any, bridge_calls: list[str]) -> None:
    async def operation(objects: list[Any], native: bool) -> Any:
        return [await _call(obj, "delete", native) for obj in objects[:3]]

    outcome, _, stored = await _both(_loaded, operation, bridge_calls)
    assert outcome == ("ok", [None, None, None]) and bridge_calls == ["delete"] * 3
    assert [row[0] for row in stored] == ["Loose", "Thing"]

    async def with_concern(objects: list[Any], native: bool) -> Any:
        return await _call(objects[1], "delete", native, w=1, signal_kwargs={"a": 1})

    await _both(_loaded, with_concern, bridge_calls)
    assert bridge_calls == ["delete"]


async def test_limited_querysets_delete_one_by_one_as_delete_does(
    db: Any, bridge_calls: list[str]
) -> None:
    operation = _update(lambda: Thing.objects.order_by("-n").limit(2), "delete")
    outcome, _, stored = await _both(_saved, operation, bridge_calls)
    assert outcome == ("ok", 2)
    assert bridge_calls == ["delete"]  # the general path
    assert sorted(row[2]["name"] for row in stored if row[0] == "Thing") == ["a"]


# -- async_aggregate ----------------------------------------------------------------------------


async def _aggregate(make: Callable[[], Any], pipeline: Any, native: bool) -> list[Any]:
    queryset = make()
    if native:
        return await (await queryset.async_aggregate(pipeline)).to_list()
    cursor = await greenlet_spawn(lambda: queryset.aggregate(pipeline).async_target)
    return await cursor.to_list()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Thing.objects,
        lambda: Thing.objects(n__gte=2).order_by("-n"),
        lambda: Thing.objects.order_by("n").skip(1).limit(1),
        lambda: Thing.objects.none(),
        lambda: SubThing.objects,
        lambda: Thing.objects.read_preference(__import__("pymongo").ReadPreference.PRIMARY),
    ],
)
async def test_async_aggregate_equals_aggregate(
    db: Any, bridge_calls: list[str], make: Callable[[], Any]
) -> None:
    pipeline = [{"$project": {"_id": 0, "name": 1, "num": 1}}]

    async def operation(objects: list[Any], native: bool) -> Any:
        return await _aggregate(make, pipeline, native)

    await _both(_saved, operation, bridge_calls)
    assert bridge_calls == ["aggregate"]  # MongoEngine's own aggregate()


async def test_async_aggregate_joins_the_transaction(async_db: Any) -> None:
    async with async_run_in_transaction():
        await Thing(name="in-tx", n=4).async_save()
        rows = await (
            await Thing.objects(name="in-tx").async_aggregate([{"$project": {"num": 1}}])
        ).to_list()
        assert [row["num"] for row in rows] == [4]


async def test_a_custom_queryset_keeps_its_own_write_methods(
    db: Any, bridge_calls: list[str]
) -> None:
    from mongoengine import QuerySet

    class Logged(QuerySet):
        def update(self, *args: Any, **kwargs: Any) -> Any:
            return ("custom update", super().update(*args, **kwargs))

        def delete(self, *args: Any, **kwargs: Any) -> Any:
            return ("custom delete", super().delete(*args, **kwargs))

    class Custom(Document):
        name = StringField()
        meta = {"collection": "native_custom_writes", "queryset_class": Logged}

    custom = Custom(name="x")
    await custom.async_save()
    assert await Custom.objects.async_update(set__name="y") == ("custom update", 1)
    assert await Custom.objects.async_update_one(set__name="z") == ("custom update", 1)
    assert (await Custom.objects.async_get()).name == "z"
    await custom.async_delete()
    assert await Custom.objects.async_count() == 0
    # (on mongomock async_count always runs in the bridge)
    assert [name for name in bridge_calls if name != "count"] == [
        "save",
        "update",
        "update_one",
        "delete",
    ]
    await Custom.async_drop_collection()


async def test_fields_with_io_or_own_code_take_the_general_path(
    db: Any, bridge_calls: list[str]
) -> None:
    from mongoengine import SequenceField

    def short(value: str) -> None:
        if len(value) > 3:
            raise ValidationError("too long")

    class Numbered(Document):
        number = SequenceField()  # reads its counter: only in the bridge
        meta = {"collection": "native_numbered"}

    class Validated(Document):
        code = StringField(validation=short)
        meta = {"collection": "native_validated"}

    first, second = Numbered(), Numbered()
    await first.async_save()
    await second.async_save()
    assert [first.number, second.number] == [1, 2]
    with pytest.raises(ValidationError, match="too long"):
        await Validated(code="toolong").async_save()
    await Validated(code="ok").async_save()
    assert bridge_calls == ["save", "save", "save", "save"]
    assert await Validated.objects.async_count() == 1
    await Numbered.async_drop_collection()
    await Validated.async_drop_collection()


# -- async_insert ----------------------------------------------------------------------------


def _fresh(*names: str, loaded: bool = False) -> Setup:
    async def setup() -> list[Any]:
        await _saved()
        docs: list[Any] = [Thing(name=name, n=i, tags=[name]) for i, name in enumerate(names)]
        docs.append(SubThing(name=f"sub-{len(names)}", extra="e"))
        if loaded:
            docs.append(await Thing.objects.async_get(name="a"))  # has an id: refused
        return docs

    return setup


def _insert(shape: str, **options: Any) -> Operation:
    async def operation(objects: list[Any], native: bool) -> Any:
        if shape == "one":
            target: Any = objects[0]
        elif shape == "generator":
            target = (doc for doc in objects)
        elif shape == "foreign":
            target = [*objects, Sharded(region="x")]
        else:
            target = objects
        return await _call(Thing.objects, "insert", native, target, **options)

    return operation


@pytest.mark.parametrize(
    ("setup", "operation", "bridged"),
    [
        (_fresh("x", "y"), _insert("list", load_bulk=False), ["insert"]),
        (_fresh("x", "y"), _insert("list"), ["insert"]),
        (_fresh("x"), _insert("one", load_bulk=False), ["insert"]),
        (_fresh("x"), _insert("one"), ["insert"]),
        (_fresh("x", "y"), _insert("list", load_bulk=False, write_concern={"w": 1}), ["insert"]),
        (_fresh("x", "y"), _insert("list", load_bulk=False, signal_kwargs={"k": 1}), ["insert"]),
        (_fresh("x", "a"), _insert("list", load_bulk=False), ["insert"]),  # unique: BulkWriteError
        (_fresh("a"), _insert("one", load_bulk=False), ["insert"]),  # unique: NotUniqueError
        (_fresh("x", loaded=True), _insert("list", load_bulk=False), ["insert"]),  # has an id
        (_fresh("x"), _insert("foreign", load_bulk=False), ["insert"]),  # not a Thing
        (_fresh("x"), _insert("generator", load_bulk=False), ["insert"]),  # MongoEngine's own
    ],
)
async def test_async_insert_equals_insert(
    db: Any, bridge_calls: list[str], setup: Setup, operation: Operation, bridged: list[str]
) -> None:
    await _both(setup, operation, bridge_calls)
    assert bridge_calls == bridged


async def test_async_insert_with_receivers_takes_the_general_path(
    db: Any, bridge_calls: list[str]
) -> None:
    seen: list[int] = []

    def pre_bulk_insert(sender: Any, documents: Any, **kwargs: Any) -> None:
        seen.append(len(documents))

    signals.pre_bulk_insert.connect(pre_bulk_insert, sender=Thing)
    try:
        await _both(_fresh("x", "y"), _insert("list", load_bulk=False), bridge_calls)
    finally:
        signals.pre_bulk_insert.disconnect(pre_bulk_insert, sender=Thing)
    assert bridge_calls == ["insert"] and seen == [3, 3]


async def test_async_insert_joins_the_transaction(async_db: Any) -> None:
    await Thing.async_ensure_indexes()
    async with async_run_in_transaction():
        await Thing.objects.async_insert([Thing(name="t1"), Thing(name="t2")], load_bulk=False)
        assert await Thing.objects.async_count() == 2
    with pytest.raises(RuntimeError):  # rolled back
        async with async_run_in_transaction():
            assert (await Thing.objects.async_insert(Thing(name="t3"))).name == "t3"
            assert await Thing.objects.async_count() == 3
            raise RuntimeError("abort")
    assert sorted(t.name for t in await Thing.objects.async_to_list()) == ["t1", "t2"]


async def test_field_classes_that_only_configure_take_the_native_path(
    db: Any, bridge_calls: list[str]
) -> None:
    """``VersionField`` (an ``__init__`` with defaults) and ``IdReferenceField`` (plus a
    read-only property) change nothing MongoEngine calls: writes stay native and store
    what the sync methods store; a field overriding ``validate`` takes the bridge."""
    from persistence.fields import FileIdField, IdReferenceField, VersionField

    class Strict(StringField):
        def validate(self, value: Any) -> None:
            super().validate(value)

    class Versioned(Document):
        name = StringField()
        version = VersionField()
        owner = IdReferenceField("Thing")
        file = FileIdField()
        meta = {"collection": "native_versioned"}

    class Checked(Document):
        name = Strict()
        meta = {"collection": "native_strict"}

    owner = ObjectId()
    native = Versioned(name="n", owner=owner)
    await native.async_save()
    await Versioned.objects(pk=native.pk).async_update_one(inc__version=1)
    assert bridge_calls == []
    general = Versioned(name="n", owner=owner)
    await greenlet_spawn(general.save)
    await greenlet_spawn(Versioned.objects(pk=general.pk).update_one, inc__version=1)
    rows = [
        {k: v for k, v in row.items() if k != "_id"}
        async for row in async_collection_of(Versioned).find({}, sort=[("_id", 1)])
    ]
    assert rows == [{"name": "n", "version": 1, "owner": owner}] * 2
    bridge_calls.clear()
    await Checked(name="c").async_save()
    assert bridge_calls == ["save"]
    await Versioned.async_drop_collection()
    await Checked.async_drop_collection()
