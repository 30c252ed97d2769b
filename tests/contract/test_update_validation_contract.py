"""``update_where`` never writes what the Document refuses, the same on every adapter.

Each change is checked against its Document field before any write: a ``set`` or
``push`` value through the field's validation, the version field and the id refused, an
``inc``/``push``/``pull`` whose result breaks a bound or a length checked on every
matched document; a refusal writes nothing (read back).  Also: a unique clash names its
field, a write conflict is named as one, and a stored document with a field its
Document does not declare gives ``StoredDataError``.  Each test runs on memory,
mongomock and the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from mongoengine import (
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
)

from persistence.engine import get_async_db
from persistence.errors import (
    ConcurrencyConflict,
    Conflict,
    InvalidEntity,
    InvalidSpec,
    StoredDataError,
)
from persistence.fields import VersionField
from persistence.ids import new_id
from persistence.registry import Registry
from persistence.specs import ALL, Changes, F

# -- declarations -----------------------------------------------------------------------


@attrs.define(kw_only=True)
class Item:
    id: str = attrs.field(factory=new_id)
    sku: str
    status: str = "new"
    stock: int = 0
    code: str | None = None
    tags: list[str] = attrs.field(factory=list)
    version: int = 0


class ItemDocument(Document):
    sku = StringField(required=True, unique=True, max_length=8)
    status = StringField(required=True, choices=["new", "sold"])
    stock = IntField(min_value=0, max_value=100)
    code = StringField(regex=r"^[A-Z]{3}$")
    tags = ListField(StringField(max_length=5), max_length=1)
    version = VersionField()
    meta = {"collection": "checked_items"}


@attrs.define(kw_only=True)
class Range:
    id: str = attrs.field(factory=new_id)
    low: int = 0
    high: int = 0


class RangeDocument(Document):
    low = IntField()
    high = IntField()
    meta = {"collection": "checked_ranges"}

    def clean(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            from mongoengine.errors import ValidationError

            raise ValidationError("low must not exceed high", field_name="low")


@attrs.define(kw_only=True)
class Tally:
    id: str = attrs.field(factory=new_id)
    name: str
    count: int = 0


class TallyDocument(Document):
    name = StringField(required=True)
    count = IntField()
    meta = {"collection": "checked_tallies"}


@attrs.frozen(kw_only=True)
class Size:
    w: int
    h: int


@attrs.define(kw_only=True)
class Box:
    id: str = attrs.field(factory=new_id)
    label: str
    size: Size | None = None


class SizeDocument(EmbeddedDocument):
    w = IntField(required=True)
    h = IntField(required=True)


class BoxDocument(Document):
    label = StringField(required=True)
    size = EmbeddedDocumentField(SizeDocument)
    meta = {"collection": "checked_boxes"}


registry = Registry()
registry.add(Item, ItemDocument)
registry.add(Box, BoxDocument)
registry.add(Range, RangeDocument)
registry.add(Tally, TallyDocument)

# -- end of declarations ----------------------------------------------------------------

MakeUow = Callable[[], Any]


@pytest.fixture
def make_uow(backend: Callable[[Registry], Any]) -> MakeUow:
    return lambda: backend(registry)


async def _items(make_uow: MakeUow, *items: Item) -> None:
    async with make_uow() as uow:
        await uow.repo(Item).add_many(items)
        await uow.commit()


async def _stored(make_uow: MakeUow) -> list[tuple[str, str, int, str | None, list[str], int]]:
    async with make_uow().reading() as uow:
        found = await uow.repo(Item).find()
    return sorted((i.sku, i.status, i.stock, i.code, i.tags, i.version) for i in found)


async def _refused(make_uow: MakeUow, spec: Any, changes: Changes) -> Exception:
    with pytest.raises((InvalidEntity, InvalidSpec)) as caught:
        async with make_uow() as uow:
            await uow.repo(Item).update_where(spec, changes)
            await uow.commit()
    return caught.value


BEFORE = [("A", "new", 5, None, [], 0), ("B", "new", 1, None, ["x"], 0)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (Changes().set("stock", "lots"), "stock"),
        (Changes().set("status", "weird"), "status"),
        (Changes().set("stock", 101), "stock"),
        (Changes().set("sku", "much-too-long"), "sku"),
        (Changes().set("code", "abc"), "code"),
        (Changes().set("status", None), "status"),
        (Changes().unset("status"), "status"),
        (Changes().push("tags", "too-long"), "tags"),
        (Changes().push("tags", 7), "tags"),
    ],
    ids=["type", "choices", "max", "length", "regex", "required", "unset", "element", "etype"],
)
async def test_a_set_or_push_value_the_field_refuses_writes_nothing(
    make_uow: MakeUow, changes: Changes, field: str
) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    error = await _refused(make_uow, ALL, changes)
    assert isinstance(error, InvalidEntity)
    assert field in error.problems
    assert await _stored(make_uow) == BEFORE


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (Changes().inc("stock", -3), "stock"),  # B would go below 0, A would not
        (Changes().inc("stock", 96), "stock"),  # A would go above 100, B would not
        (Changes().push("tags", "y").set("status", "sold"), "tags"),  # B would hold 2 tags
    ],
    ids=["below-min", "above-max", "list-length"],
)
async def test_a_computed_change_one_document_would_refuse_writes_nothing(
    make_uow: MakeUow, changes: Changes, field: str
) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    error = await _refused(make_uow, ALL, changes)
    assert isinstance(error, InvalidEntity)
    assert field in error.problems
    assert await _stored(make_uow) == BEFORE


async def test_a_computed_change_every_document_accepts_is_written(make_uow: MakeUow) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    async with make_uow() as uow:
        assert await uow.repo(Item).update_where(ALL, Changes().inc("stock", -1)) == 2
        assert await uow.repo(Item).update_where(F("sku") == "A", Changes().push("tags", "y")) == 1
        await uow.commit()
    assert await _stored(make_uow) == [
        ("A", "new", 4, None, ["y"], 2),
        ("B", "new", 0, None, ["x"], 1),
    ]


async def test_the_unit_goes_on_after_a_refused_change(make_uow: MakeUow) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    async with make_uow() as uow:
        with pytest.raises(InvalidEntity):
            await uow.repo(Item).update_where(ALL, Changes().inc("stock", -2))
        await uow.repo(Item).update_where(F("sku") == "A", Changes().inc("stock", -2))
        await uow.commit()
    assert await _stored(make_uow) == [("A", "new", 3, None, [], 1), BEFORE[1]]


async def test_a_set_is_stored_as_saving_stores_it(make_uow: MakeUow) -> None:
    await _items(make_uow, Item(sku="A", stock=5))
    async with make_uow() as uow:
        await uow.repo(Item).update_where(ALL, Changes().set("stock", "7").set("code", "XYZ"))
        await uow.commit()
    async with make_uow().reading() as uow:
        assert await uow.repo(Item).count(F("stock") == 7) == 1  # an int, as save stores it
    assert await _stored(make_uow) == [("A", "new", 7, "XYZ", [], 1)]


@pytest.mark.parametrize(
    "make_changes",
    [
        lambda: Changes().set("version", 99),
        lambda: Changes().inc("version", 1),
        lambda: Changes().set("id", new_id()),
    ],
    ids=["set-version", "inc-version", "set-id"],
)
async def test_the_version_and_the_id_cannot_be_changed(
    make_uow: MakeUow, make_changes: Callable[[], Changes]
) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    try:
        changes = make_changes()  # a change of the id is refused as it is made
    except InvalidSpec as refused:
        error: Exception = refused
    else:
        error = await _refused(make_uow, ALL, changes)
    assert isinstance(error, InvalidSpec)
    assert "version" in str(error) or "id" in str(error)
    assert await _stored(make_uow) == BEFORE


async def test_an_operation_the_field_cannot_take_is_refused(make_uow: MakeUow) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    for changes in (
        Changes().inc("sku", 1),
        Changes().inc("stock", 1.5),
        Changes().push("stock", 1),
    ):
        error = await _refused(make_uow, ALL, changes)
        assert isinstance(error, InvalidSpec)
    assert await _stored(make_uow) == BEFORE


async def test_the_documents_own_clean_is_applied(make_uow: MakeUow) -> None:
    async with make_uow() as uow:
        await uow.repo(Range).add(Range(low=1, high=3))
        await uow.commit()
    with pytest.raises(InvalidEntity) as caught:
        async with make_uow() as uow:
            await uow.repo(Range).update_where(ALL, Changes().set("low", 5))
            await uow.commit()
    assert "low must not exceed high" in str(caught.value)
    async with make_uow().reading() as uow:
        [stored] = await uow.repo(Range).find()
    assert (stored.low, stored.high) == (1, 3)


async def test_a_change_inside_an_embedded_document_keeps_it_valid(make_uow: MakeUow) -> None:
    async with make_uow() as uow:
        await uow.repo(Box).add_many([Box(label="empty"), Box(label="full", size=Size(w=1, h=2))])
        await uow.commit()
    with pytest.raises(InvalidEntity) as caught:  # would make {"w": 3} without its "h"
        async with make_uow() as uow:
            await uow.repo(Box).update_where(ALL, Changes().set("size.w", 3))
    assert "h" in str(caught.value)
    async with make_uow() as uow:
        assert (
            await uow.repo(Box).update_where(F("label") == "full", Changes().set("size.w", 3)) == 1
        )
        await uow.commit()
    async with make_uow().reading() as uow:
        boxes = sorted((b.label, b.size) for b in await uow.repo(Box).find())
    assert boxes == [("empty", None), ("full", Size(w=3, h=2))]


async def test_a_unique_clash_of_update_where_names_the_field(make_uow: MakeUow) -> None:
    await _items(make_uow, Item(sku="A", stock=5), Item(sku="B", stock=1, tags=["x"]))
    with pytest.raises(Conflict) as caught:
        async with make_uow() as uow:
            await uow.repo(Item).update_where(F("sku") == "B", Changes().set("sku", "A"))
            await uow.commit()
    assert caught.value.field == "sku"
    assert "sku" in str(caught.value)
    assert await _stored(make_uow) == BEFORE


# -- a write conflict is named as one --------------------------------------------------------


async def test_a_write_conflict_names_a_concurrent_transaction(
    make_uow: MakeUow, backend_name: str
) -> None:
    if backend_name != "mongo":
        pytest.skip("a server's snapshot isolation: the others see the other's commit")
    async with make_uow() as uow:
        await uow.repo(Tally).add(Tally(name="t"))
        await uow.commit()
    first_read = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with make_uow() as uow:
            await uow.repo(Tally).count()  # the unit's snapshot is taken
            first_read.set()
            await second_done.wait()
            await uow.repo(Tally).update_where(ALL, Changes().inc("count", 1))
            await uow.commit()

    async def second() -> None:
        await first_read.wait()
        try:
            async with make_uow() as uow:
                await uow.repo(Tally).update_where(ALL, Changes().inc("count", 10))
                await uow.commit()
        finally:
            second_done.set()

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert results[1] is None
    error = results[0]
    assert isinstance(error, ConcurrencyConflict)
    assert error.write_conflict
    assert error.field is None  # Tally has no version field
    assert "write conflict" in str(error) and "concurrent transaction" in str(error)
    assert "Tally" in str(error)
    async with make_uow().reading() as uow:
        [tally] = await uow.repo(Tally).find()
    assert tally.count == 10


async def test_a_write_conflict_of_a_save_names_the_entity_and_its_id(
    make_uow: MakeUow, backend_name: str
) -> None:
    if backend_name != "mongo":
        pytest.skip("a server's snapshot isolation: the others see the other's commit")
    async with make_uow() as uow:
        tally = await uow.repo(Tally).add(Tally(name="t"))
        await uow.commit()
    first_read = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with make_uow() as uow:
            mine = await uow.repo(Tally).get(tally.id)
            first_read.set()
            await second_done.wait()
            mine.count = 1
            await uow.repo(Tally).save(mine)  # Tally has no version: the server notices
            await uow.commit()

    async def second() -> None:
        await first_read.wait()
        try:
            async with make_uow() as uow:
                theirs = await uow.repo(Tally).get(tally.id)
                theirs.count = 10
                await uow.repo(Tally).save(theirs)
                await uow.commit()
        finally:
            second_done.set()

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert results[1] is None
    error = results[0]
    assert isinstance(error, ConcurrencyConflict) and error.write_conflict
    assert error.field is None and error.entity_id == tally.id
    assert f"write conflict on Tally {tally.id!r}" in str(error)
    async with make_uow().reading() as uow:
        assert (await uow.repo(Tally).get(tally.id)).count == 10


# -- a stored document with a field its Document does not declare -------------------------


async def test_a_stray_stored_field_gives_a_stored_data_error(
    make_uow: MakeUow, backend_name: str
) -> None:
    if backend_name == "memory":
        pytest.skip("the memory store holds only what the layer wrote")
    stray_id = new_id()
    await _items(make_uow, Item(sku="A", stock=5))
    from bson import ObjectId

    raw = get_async_db()["checked_items"].insert_one(
        {"_id": ObjectId(stray_id), "sku": "S", "status": "new", "version": 0, "colour": "red"}
    )
    if asyncio.iscoroutine(raw):
        await raw
    reads = [
        lambda repo: repo.find(),
        lambda repo: repo.find(F("sku") == "S"),
        lambda repo: repo.get(stray_id),
        lambda repo: repo.get_many([stray_id]),
        lambda repo: repo.first(F("sku") == "S"),
    ]
    for read in reads:
        async with make_uow().reading() as uow:
            with pytest.raises(StoredDataError) as caught:
                await read(uow.repo(Item))
        error = caught.value
        assert error.fields == ("colour",)
        assert error.collection == "checked_items"
        assert error.entity_id == stray_id
        assert "strict" in str(error) and "colour" in str(error)
    with pytest.raises(StoredDataError):
        async with make_uow() as uow:
            await uow.repo(Item).remove(stray_id)
    async with make_uow().reading() as uow:
        assert await uow.repo(Item).count() == 2  # nothing removed
