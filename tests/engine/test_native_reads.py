"""``async_get`` and ``async_first`` run natively (no bridge); here both paths run side by
side: the native twins against MongoEngine's own ``get()``/``first()`` run in the bridge."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import (
    Document,
    DoesNotExist,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    MultipleObjectsReturned,
    Q,
    ReferenceField,
    StringField,
)
from pymongo import ReadPreference

from persistence.engine import async_run_in_transaction, greenlet_spawn, reads


class Tag(EmbeddedDocument):
    label = StringField()


class Owner(Document):
    name = StringField()
    meta = {"collection": "native_owners"}


class Item(Document):
    name = StringField()
    n = IntField(db_field="num")
    tags = ListField(StringField())
    tag = EmbeddedDocumentField(Tag)
    owner = ReferenceField(Owner)
    meta = {"collection": "native_items", "allow_inheritance": True, "indexes": ["name"]}


class Special(Item):
    extra = StringField()


def _state(value: Any) -> Any:
    """What a result looks like, for comparing the two paths."""
    if isinstance(value, Document):
        return (type(value), value.to_mongo().to_dict(), value._created, value._changed_fields)
    if isinstance(value, list):
        return [_state(v) for v in value]
    return value


async def _both(queryset_of: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Run the native twin and the sync method in the bridge; both must agree."""
    try:
        general = await greenlet_spawn(getattr(queryset_of(), method), *args, **kwargs)
    except Exception as error:  # the native path must raise the same
        with pytest.raises(type(error)) as raised:
            await getattr(queryset_of(), f"async_{method}")(*args, **kwargs)
        assert str(raised.value) == str(error)
        return error
    native = await getattr(queryset_of(), f"async_{method}")(*args, **kwargs)
    assert _state(native) == _state(general)
    return native


@pytest.fixture
async def items(any_async_db: Any) -> list[Item]:
    owner = Owner(name="o")
    await owner.async_save()
    docs = [
        Item(name="a", n=1, tags=["x"], tag=Tag(label="t"), owner=owner),
        Item(name="b", n=2),
        Item(name="b", n=3),
        Special(name="s", n=4, extra="e"),
    ]
    for doc in docs:
        await doc.async_save()
    return docs


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ({"name": "a"}, "a"),
        ({"n": 4}, "s"),  # a subclass through the base class
        ({"name": "b"}, MultipleObjectsReturned),
        ({"name": "zzz"}, DoesNotExist),
        ({"tag__label": "t"}, "a"),
    ],
)
async def test_async_get_equals_get_in_the_bridge(items: Any, query: Any, expect: Any) -> None:
    result = await _both(lambda: Item.objects, "get", **query)
    if isinstance(expect, str):
        assert result.name == expect
    else:
        assert isinstance(result, expect)


async def test_async_get_variants_equal_get_in_the_bridge(items: Any) -> None:
    assert (await _both(lambda: Item.objects, "get", Q(name="a") | Q(n=99))).n == 1
    assert await _both(lambda: Item.objects.scalar("n"), "get", name="a") == 1
    raw = await _both(lambda: Item.objects.as_pymongo(), "get", name="a")
    assert raw["num"] == 1
    only = await _both(lambda: Item.objects.only("name"), "get", name="a")
    assert only.n is None and only.name == "a"
    assert isinstance(await _both(lambda: Item.objects.none(), "get"), DoesNotExist)
    assert (await _both(lambda: Special.objects, "get")).extra == "e"
    # get() drops the ordering (order_by()), so skip(2) counts in natural order
    assert (await _both(lambda: Item.objects(n__gt=1).order_by("-n").skip(2), "get")).n == 4
    got = await _both(lambda: Item.objects, "get", name="a")
    assert got.owner.__class__.__name__ in {"AsyncReferenceProxy", "Owner", "DBRef"}


@pytest.fixture
def direct_gets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The documents whose ``async_get`` took the direct find (no queryset copy)."""
    calls: list[str] = []
    original = reads._find_one_of_two

    async def spy(self: Any, q_objs: Any, query: Any) -> Any:
        calls.append(self._document.__name__)
        return await original(self, q_objs, query)

    monkeypatch.setattr(reads, "_find_one_of_two", spy)
    return calls


@pytest.mark.parametrize(
    ("make", "args", "kwargs"),
    [
        (lambda: Item.objects, (), {"name": "a"}),
        (lambda: Item.objects, (Q(name="a") | Q(n=4),), {}),
        (lambda: Item.objects, (Q(name="b"),), {"n": 3}),
        (lambda: Item.objects(n__gte=2), (), {"name": "b"}),
        (lambda: Item.objects.order_by("-n"), (), {"name": "a"}),
        (lambda: Item.objects.limit(1), (), {"name": "b"}),
        (lambda: Item.objects, (), {"name": "b"}),
        (lambda: Item.objects, (), {"name": "zzz"}),
        (lambda: Item.objects, (), {"n": 4}),
        (lambda: Special.objects, (), {}),
        (lambda: Item.objects.scalar("n"), (), {"name": "a"}),
        (lambda: Item.objects.scalar("name", "n"), (), {"name": "a"}),
        (lambda: Item.objects.as_pymongo(), (), {"name": "a"}),
        (lambda: Item.objects.only("name", "tag"), (), {"name": "a"}),
        (lambda: Item.objects.exclude("tags"), (), {"name": "a"}),
        (lambda: Item.objects.no_dereference(), (), {"name": "a"}),
        (lambda: Item.objects.timeout(False).allow_disk_use(True), (), {"name": "a"}),
        (lambda: Item.objects.read_preference(ReadPreference.PRIMARY_PREFERRED), (), {"n": 1}),
        (lambda: Item.objects.read_concern({"level": "local"}), (), {"n": 1}),
        (lambda: Item.objects.max_time_ms(5000), (), {"n": 1}),
        (lambda: Item.objects, ("not a Q",), {}),
        (lambda: Item.objects, (), {"nosuchfield": 1}),
    ],
)
async def test_direct_async_get_equals_get_in_the_bridge(
    items: Any, direct_gets: list[str], make: Any, args: Any, kwargs: Any
) -> None:
    await _both(make, "get", *args, **kwargs)
    assert len(direct_gets) == 1  # the native call took the direct find


@pytest.mark.parametrize(
    "make",
    [
        lambda: Item.objects(n__gt=1).skip(1),
        lambda: Item.objects.hint([("name", 1)]),
        lambda: Item.objects.where("this.num == 2"),
        lambda: Item.objects.batch_size(1),
        lambda: Item.objects.none(),
    ],
)
async def test_other_async_gets_take_the_queryset_path(
    items: Any, direct_gets: list[str], make: Any
) -> None:
    await _both(make, "get")
    await _both(make, "get", n=2)
    assert direct_gets == []


async def test_direct_async_get_in_a_transaction_and_with_a_switched_collection(
    async_db: Any, direct_gets: list[str]
) -> None:
    from mongoengine import async_switch_collection

    await Item(name="a").async_save()
    async with async_run_in_transaction():
        await Item(name="in-tx", n=10).async_save()
        assert (await _both(lambda: Item.objects, "get", name="in-tx")).n == 10
    async with async_switch_collection(Item, "native_items_other"):
        await Item(name="elsewhere").async_save()
        assert (await _both(lambda: Item.objects, "get", name="elsewhere")).name == "elsewhere"
        assert isinstance(await _both(lambda: Item.objects, "get", name="a"), DoesNotExist)
    assert isinstance(await _both(lambda: Item.objects, "get", name="elsewhere"), DoesNotExist)
    assert len(direct_gets) == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: Item.objects,
        lambda: Item.objects.order_by("-n"),
        lambda: Item.objects(name="b").order_by("n").skip(1),
        lambda: Item.objects(name="zzz"),
        lambda: Item.objects.none(),
        lambda: Item.objects.scalar("name").order_by("-n"),
        lambda: Item.objects.as_pymongo().order_by("n"),
        lambda: Item.objects[2:],
        lambda: Special.objects,
    ],
)
async def test_async_first_equals_first_in_the_bridge(items: Any, make: Any) -> None:
    await _both(make, "first")


async def test_native_reads_join_the_transaction(async_db: Any) -> None:
    async with async_run_in_transaction():
        await Item(name="in-tx", n=10).async_save()
        assert (await Item.objects.async_get(name="in-tx")).n == 10
        assert (await Item.objects(name="in-tx").async_first()).n == 10
        assert (await _both(lambda: Item.objects(name="in-tx"), "first")).n == 10
    assert (await Item.objects.async_get(name="in-tx")).n == 10


async def test_native_reads_refuse_a_sync_alias(sync_db: Any) -> None:
    class OnSync(Document):
        name = StringField()
        meta = {"db_alias": "sync", "collection": "native_sync"}

    with pytest.raises(RuntimeError, match="needs an async connection"):
        await OnSync.objects.async_get(name="x")
    with pytest.raises(RuntimeError, match="needs an async connection"):
        await OnSync.objects.async_first()


@pytest.mark.parametrize(
    ("make", "args"),
    [
        (lambda: Item.objects, ()),
        (lambda: Item.objects(name="b"), ()),
        (lambda: Item.objects(n__gte=2).limit(1).skip(1), ()),
        (lambda: Item.objects(n__gte=2).limit(1).skip(1), (True,)),
        (lambda: Item.objects.limit(0), ()),
        (lambda: Item.objects.none(), ()),
        (lambda: Special.objects, ()),
        (lambda: Item.objects(name="b").hint([("name", 1)]), ()),
        (lambda: Item.objects(name="zzz"), ()),
        (lambda: Item.objects(name="b").read_preference(ReadPreference.PRIMARY_PREFERRED), ()),
        (lambda: Item.objects.read_concern({"level": "local"}), ()),
    ],
)
async def test_async_count_equals_count_in_the_bridge(items: Any, make: Any, args: Any) -> None:
    await _both(make, "count", *args)


async def test_async_count_in_a_transaction_sees_its_own_writes(async_db: Any) -> None:
    await Item(name="before").async_save()
    async with async_run_in_transaction():
        await Item(name="in-tx").async_save()
        assert await Item.objects.async_count() == 2
        assert await Item.objects(name="in-tx").async_count() == 1
        assert await _both(lambda: Item.objects, "count") == 2
    assert await Item.objects.async_count() == 2


async def test_a_custom_queryset_keeps_its_own_methods(async_db: Any) -> None:
    from mongoengine import QuerySet

    class Counting(QuerySet):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            return "custom get"

        def first(self) -> Any:
            return "custom first"

        def count(self, with_limit_and_skip: bool = False) -> int:
            return -1

    class Custom(Document):
        name = StringField()
        meta = {"collection": "native_custom", "queryset_class": Counting}

    await Custom(name="x").async_save()
    assert await Custom.objects.async_get(name="x") == "custom get"
    assert await Custom.objects.async_first() == "custom first"
    assert await Custom.objects.async_count() == -1
