"""The async paths behave as MongoEngine's for the classes and values met at run time
(issue 21's items 1, 3, 4, 5 and 10), on the server and on mongomock.

Each case is the one the issue reports: nested containers reached by iteration and
changed in place are saved; an embedded subclass stored in a field, or a document of a
subclass given to ``async_insert``, is saved however its own class saves; a generic
reference read on a loaded document still validates against its choices; an instance's
own ``_save_create`` is called.  Every test reads the stored data back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from mongoengine import (
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    GenericReferenceField,
    IntField,
    ListField,
    SequenceField,
    StringField,
    ValidationError,
)

from persistence.engine.class_collections import async_collection_of


class Order(Document):
    lines = ListField(DictField())
    rows = ListField(ListField(IntField()))
    opts = DictField()
    meta = {"collection": "rt_orders"}


async def _stored(cls: Any, pk: Any) -> dict[str, Any]:
    found = await async_collection_of(cls).find_one({"_id": pk})
    assert found is not None
    return found  # type: ignore[no-any-return]


async def _by_get(order: Order) -> Order:
    return await Order.objects.async_get(id=order.id)


async def _by_first(order: Order) -> Order:
    return await Order.objects(id=order.id).async_first()


async def _by_iteration(order: Order) -> Order:
    found = [doc async for doc in Order.objects(id=order.id)]
    return found[0]


async def _by_to_list(order: Order) -> Order:
    return (await Order.objects(id=order.id).async_to_list())[0]


async def _by_reload(order: Order) -> Order:
    doc = await Order.objects.async_get(id=order.id)
    await doc.async_reload()
    return doc


async def _by_in_bulk(order: Order) -> Order:
    return (await Order.objects.async_in_bulk([order.id]))[order.id]


async def _by_with_id(order: Order) -> Order:
    return await Order.objects.async_with_id(order.id)  # type: ignore[no-any-return]


async def _by_select_related(order: Order) -> Order:
    return (await Order.objects(id=order.id).async_select_related())[0]


READS: dict[str, Callable[[Order], Awaitable[Order]]] = {
    "get": _by_get,
    "first": _by_first,
    "async for": _by_iteration,
    "to_list": _by_to_list,
    "reload": _by_reload,
    "in_bulk": _by_in_bulk,
    "with_id": _by_with_id,
    "select_related": _by_select_related,
}


@pytest.mark.parametrize("read", sorted(READS))
async def test_nested_containers_changed_through_iteration_are_saved(
    any_async_db: Any, read: str
) -> None:
    order = Order(lines=[{"qty": 1}], rows=[[1], [2]], opts={"a": {"y": 1}})
    await order.async_save()
    doc = await READS[read](order)
    for line in doc.lines:
        line["qty"] += 1
    for row in doc.rows:
        row.append(0)
    for value in doc.opts.values():
        value["y"] = 2
    # what MongoEngine's own read reports for the same changes
    assert sorted(doc._get_changed_fields()) == ["lines.0.qty", "opts.a.y", "rows.0", "rows.1"]
    await doc.async_save()
    stored = await _stored(Order, order.id)
    assert stored["lines"] == [{"qty": 2}]
    assert stored["rows"] == [[1, 0], [2, 0]]
    assert stored["opts"] == {"a": {"y": 2}}


class Leaf(EmbeddedDocument):
    tags = ListField(StringField())


class Tree(Document):
    leaves = EmbeddedDocumentListField(Leaf)
    meta = {"collection": "rt_trees"}


async def test_lists_inside_embedded_documents_in_lists_are_tracked(any_async_db: Any) -> None:
    tree = Tree(leaves=[Leaf(tags=["a"]), Leaf(tags=["b"])])
    await tree.async_save()
    doc = await Tree.objects.async_get(id=tree.id)
    assert type(doc.leaves).__name__ == "EmbeddedDocumentList"
    for leaf in doc.leaves:
        leaf.tags.append("z")
    await doc.async_save()
    stored = await _stored(Tree, tree.id)
    assert stored["leaves"] == [{"tags": ["a", "z"]}, {"tags": ["b", "z"]}]


# -- embedded subclasses, inserted subclasses, instance overrides --------------------------


class Part(EmbeddedDocument):
    label = StringField()
    meta = {"allow_inheritance": True}


class Counted(Document):
    label = StringField()
    meta = {"collection": "rt_counted"}


class QueryingPart(Part):
    """A subclass whose ``clean()`` queries the database (sync code: MongoEngine's path)."""

    def clean(self) -> None:
        if Counted.objects(label=self.label).count() > 1:
            raise ValidationError(f"{self.label} is used twice")


class NumberedPart(Part):
    number = SequenceField(collection_name="rt_sequences")


class Machine(Document):
    part = EmbeddedDocumentField(Part)
    spares = ListField(EmbeddedDocumentField(Part))
    meta = {"collection": "rt_machines", "allow_inheritance": True}


class NumberedMachine(Machine):
    serial = SequenceField(collection_name="rt_sequences")


async def test_a_stored_subclass_whose_clean_queries_is_saved(any_async_db: Any) -> None:
    await Counted(label="a").async_save()
    machine = Machine(part=QueryingPart(label="a"))
    await machine.async_save()
    assert (await _stored(Machine, machine.id))["part"] == {"_cls": "QueryingPart", "label": "a"}
    await Counted(label="a").async_save()
    refused = Machine(part=QueryingPart(label="a"))
    with pytest.raises(ValidationError, match="a is used twice"):
        await refused.async_save()
    assert await Machine.objects.async_count() == 1


async def test_a_stored_subclass_with_a_sequence_is_saved(any_async_db: Any) -> None:
    machine = Machine(part=NumberedPart(label="a"), spares=[NumberedPart(label="b")])
    await machine.async_save()
    stored = await _stored(Machine, machine.id)
    assert stored["part"] == {"_cls": "NumberedPart", "label": "a", "number": 1}
    assert stored["spares"] == [{"_cls": "NumberedPart", "label": "b", "number": 2}]
    loaded = await Machine.objects.async_get(id=machine.id)  # and changed later
    loaded.part = NumberedPart(label="c")
    await loaded.async_save()
    assert (await _stored(Machine, machine.id))["part"]["number"] == 3


async def test_inserting_a_subclass_with_a_sequence_through_the_base(any_async_db: Any) -> None:
    plain, numbered = Machine(), NumberedMachine()
    inserted = await Machine.objects.async_insert([plain, numbered], load_bulk=False)
    assert len(inserted) == 2
    assert (await _stored(Machine, numbered.id))["serial"] == 1
    assert "serial" not in await _stored(Machine, plain.id)
    one = await Machine.objects.async_insert(NumberedMachine())
    assert one.serial == 2 and (await _stored(Machine, one.id))["serial"] == 2


async def test_update_with_an_embedded_subclass_value(any_async_db: Any) -> None:
    machine = Machine(part=Part(label="a"))
    await machine.async_save()
    await Machine.objects(id=machine.id).async_update_one(set__part=NumberedPart(label="n"))
    stored = await _stored(Machine, machine.id)
    assert stored["part"]["_cls"] == "NumberedPart" and stored["part"]["number"] == 1


async def test_an_instance_save_create_override_is_called(any_async_db: Any) -> None:
    machine = Machine()
    calls: list[Any] = []
    own = machine._save_create

    def save_create(doc: Any, force_insert: bool, write_concern: Any) -> Any:
        calls.append(doc["_id"] if "_id" in doc else None)
        doc["marked"] = True  # what the override writes reaches the store
        return own(doc, force_insert, write_concern)

    machine._save_create = save_create  # type: ignore[method-assign]
    await machine.async_save()
    assert len(calls) == 1
    assert (await _stored(Machine, machine.id))["marked"] is True


async def test_an_embedded_instance_validate_override_is_called(any_async_db: Any) -> None:
    part = Part(label="a")

    def validate(clean: bool = True) -> None:
        raise ValidationError("refused by the instance")

    part.validate = validate  # type: ignore[method-assign]
    with pytest.raises(ValidationError, match="refused by the instance"):
        await Machine(part=part).async_save()
    assert await Machine.objects.async_count() == 0


# -- generic references with choices ------------------------------------------------------


class Allowed(Document):
    name = StringField()
    meta = {"collection": "rt_allowed"}


class Refused(Document):
    name = StringField()
    meta = {"collection": "rt_refused"}


class Pointer(Document):
    target = GenericReferenceField(choices=[Allowed])
    note = StringField()
    meta = {"collection": "rt_pointers"}


async def test_a_generic_reference_read_still_validates_against_its_choices(
    any_async_db: Any,
) -> None:
    allowed = Allowed(name="a")
    await allowed.async_save()
    pointer = Pointer(target=allowed)
    await pointer.async_save()
    loaded = await Pointer.objects.async_get(id=pointer.id)
    assert loaded.target.id == allowed.id  # reading it makes it a reference proxy
    loaded.validate()
    loaded.note = "read"
    await loaded.async_save()
    assert (await _stored(Pointer, pointer.id))["note"] == "read"
    refused = Refused(name="r")
    await refused.async_save()
    loaded.target = refused
    with pytest.raises(ValidationError, match="Value must be one of"):
        await loaded.async_save()


# -- references read by async code, then by sync code -----------------------------------


class Asset(Document):
    name = StringField()
    parent = GenericReferenceField(default=None)
    parents = ListField(GenericReferenceField())
    children = ListField(GenericReferenceField())
    meta = {"collection": "rt_assets"}


async def test_generic_references_read_by_async_code_then_by_run_sync(
    any_async_db: Any,
) -> None:
    """Async reads leave proxies in generic references; MongoEngine's own loading (here
    in ``run_sync``) over documents holding them loads them as it loads the rest."""
    from persistence.engine import run_sync

    root = Asset(name="root")
    await root.async_save()
    company = Asset(name="company", parent=root, parents=[root])
    await company.async_save()
    root.children = [company]
    await root.async_save()
    await root.async_reload()
    assert root.children == [company] and company.parents == [root]
    assert await run_sync(lambda: [p.name for p in company.parents]) == ["root"]
    loaded = await Asset.objects.async_get(name="company")
    assert loaded.parent.id == root.id  # read: a proxy in its generic reference
    holder = Asset(name="holder", parents=[loaded])
    await holder.async_save()
    assert await run_sync(lambda: [p.name for p in holder.parents]) == ["company"]
    assert await run_sync(lambda: holder.parents[0].parent.name) == "root"
