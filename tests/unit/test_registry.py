"""The registry: what it derives from a Document, and the registrations it refuses."""

from __future__ import annotations

import datetime

import attrs
import pytest
from bson import ObjectId
from mongoengine import (
    CASCADE,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FileField,
    IntField,
    LazyReferenceField,
    ListField,
    ReferenceField,
    StringField,
)

from persistence.errors import UnsupportedSpec
from persistence.fields import FileIdField, IdReferenceField, VersionField
from persistence.ids import new_id
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.ports import AggregateRepository
from persistence.query.plan import QueryPlanner
from persistence.registry import RegistrationError, Registry
from persistence.relations import Rule
from persistence.specs import F


@attrs.define(kw_only=True)
class Shop:
    id: str = attrs.field(factory=new_id)
    name: str
    region: str | None = None
    code: str | None = None


class RegShopDocument(Document):
    name = StringField(required=True, unique_with="region")
    region = StringField()
    code = StringField()
    meta = {"collection": "reg_shops", "indexes": [{"fields": ["code"], "unique": True}]}


@attrs.frozen(kw_only=True)
class Tag:
    label: str


@attrs.define(kw_only=True)
class Item:
    id: str = attrs.field(factory=new_id)
    shop_id: str
    supplier_id: str | None = None
    catalogue_id: str | None = None
    related_ids: list[str] = attrs.field(factory=list)
    external_id: str | None = None
    tags: list[Tag] = attrs.field(factory=list)
    added: datetime.datetime | None = None
    version: int = 0


class RegTagDocument(EmbeddedDocument):
    label = StringField(required=True)


class RegItemDocument(Document):
    shop_id = ReferenceField(RegShopDocument, required=True, reverse_delete_rule=CASCADE)
    supplier_id = IdReferenceField("RegShopDocument")
    catalogue_id = LazyReferenceField("RegShopDocument")
    related_ids = ListField(ReferenceField("self"))
    external_id = StringField()
    tags = ListField(EmbeddedDocumentField(RegTagDocument))
    added = DateTimeField()
    version = VersionField()
    meta = {"collection": "reg_items"}


def _registry() -> Registry:
    registry = Registry()
    registry.add(Item, RegItemDocument)  # a forward reference: shops come next
    registry.add(Shop, RegShopDocument)
    return registry


def test_what_is_derived_from_the_documents() -> None:
    registry = _registry()
    shops, items = registry.registration(Shop), registry.registration("reg_items")
    assert shops.name == "reg_shops"
    assert set(shops.unique) == {("code",), ("name", "region")}
    assert shops.version_field is None
    assert items.version_field == "version"
    assert items.id_paths == {"id", "shop_id", "supplier_id", "catalogue_id", "related_ids"}
    relations = registry.relations_from("reg_items")
    assert {name: (r.target, r.many, r.rule) for name, r in relations.items()} == {
        "shop": ("reg_shops", False, Rule.CASCADE),
        "supplier": ("reg_shops", False, Rule.DO_NOTHING),
        "catalogue": ("reg_shops", False, Rule.DO_NOTHING),
        "relateds": ("reg_items", True, Rule.DO_NOTHING),
    }
    assert [(r.source, r.field) for r in registry.relations_to("reg_shops")] == [
        ("reg_items", "shop_id")
    ]


def test_the_spec_pipeline_asks_the_registry_which_paths_hold_ids() -> None:
    planner = QueryPlanner(_registry().registration(Item))
    oid = new_id()
    assert planner.where(F("supplier_id") == oid) == {"supplier_id": ObjectId(oid)}
    assert planner.where(F("external_id") == "ext_123") == {"external_id": "ext_123"}
    with pytest.raises(UnsupportedSpec, match="supplier_id holds ids"):
        planner.where(F("supplier_id") == "ext_123")


def test_an_entity_field_the_document_lacks_is_refused() -> None:
    @attrs.define(kw_only=True)
    class Note:
        id: str = attrs.field(factory=new_id)
        text: str
        colour: str

    class RegNoteDocument(Document):
        text = StringField()

    with pytest.raises(RegistrationError, match=r"Note / RegNoteDocument.*'colour'"):
        Registry().add(Note, RegNoteDocument)


def test_a_required_document_field_the_entity_lacks_is_refused() -> None:
    @attrs.define(kw_only=True)
    class Memo:
        id: str = attrs.field(factory=new_id)

    class RegMemoDocument(Document):
        body = StringField(required=True)

    with pytest.raises(RegistrationError, match="'body' is required"):
        Registry().add(Memo, RegMemoDocument)


def test_a_type_the_field_cannot_carry_is_refused() -> None:
    with pytest.raises(RegistrationError, match=r"Shop / RegCountDocument: 'name' is a IntField"):

        class RegCountDocument(Document):
            name = IntField()
            region = StringField()
            code = StringField()

        Registry().add(Shop, RegCountDocument)


@attrs.frozen(kw_only=True)
class Size:
    width: int
    depth: int


@attrs.define(kw_only=True)
class Box:
    id: str = attrs.field(factory=new_id)
    size: Size | None = None


def test_a_value_object_field_the_embedded_document_lacks_is_refused() -> None:
    class RegSizeDocument(EmbeddedDocument):
        width = IntField()

    class RegBoxDocument(Document):
        size = EmbeddedDocumentField(RegSizeDocument)

    with pytest.raises(RegistrationError, match=r"size\.depth"):
        Registry().add(Box, RegBoxDocument)


def test_a_field_stored_under_another_name_is_refused() -> None:
    @attrs.define(kw_only=True)
    class Alias:
        id: str = attrs.field(factory=new_id)
        label: str

    class RegAliasDocument(Document):
        label = StringField(db_field="l")

    with pytest.raises(RegistrationError, match="stored as 'l'"):
        Registry().add(Alias, RegAliasDocument)


def test_a_reference_to_an_unregistered_document_is_refused_on_first_use() -> None:
    registry = Registry()
    registry.add(Item, RegItemDocument)
    with pytest.raises(RegistrationError, match=r"RegItemDocument\.shop_id references RegShop"):
        InMemoryUnitOfWork(registry)


def test_registering_twice_and_wrong_classes_are_refused() -> None:
    registry = _registry()
    with pytest.raises(RegistrationError, match="already holds"):
        registry.add(Shop, RegShopDocument)
    with pytest.raises(RegistrationError, match="not an attrs class"):
        Registry().add(dict, RegShopDocument)
    with pytest.raises(RegistrationError, match="AggregateRepository"):
        Registry().add(Shop, RegShopDocument, repository=dict)
    with pytest.raises(KeyError, match=r"bind it with registry\.add"):
        registry.registration(Tag)


async def test_an_unknown_entity_has_no_repository() -> None:
    async with InMemoryUnitOfWork(_registry()) as uow:
        with pytest.raises(KeyError, match="Tag"):
            uow.repo(Tag)
        with pytest.raises(AttributeError):
            _ = uow.no_such_repository


async def test_a_tz_aware_store_returns_aware_utc_datetimes() -> None:
    registry = _registry()
    store = InMemoryStore(tz_aware=True)
    shop = Shop(name="S", region="eu")
    item = Item(
        shop_id=shop.id,
        added=datetime.datetime(2024, 1, 1, 12, 0, 0, 999999, tzinfo=datetime.UTC),
        tags=[Tag(label="a")],
    )
    async with InMemoryUnitOfWork(registry, store) as uow:
        await uow.repo(Shop).add(shop)
        returned = await uow.repo(Item).add(item)
        await uow.commit()
    assert returned.added == datetime.datetime(2024, 1, 1, 12, 0, 0, 999000, tzinfo=datetime.UTC)
    assert returned.tags == [Tag(label="a")]


async def test_an_aggregates_own_repository_wraps_the_adapters() -> None:
    class ItemRepository(AggregateRepository[Item]):
        async def of_shop(self, shop_id: str) -> list[Item]:
            return await self.find(F("shop_id") == shop_id)

    registry = Registry()
    registry.add(Shop, RegShopDocument)
    registry.add(Item, RegItemDocument, repository=ItemRepository)
    shop = Shop(name="S", region="eu")
    async with InMemoryUnitOfWork(registry) as uow:
        await uow.repo(Shop).add(shop)
        await uow.repo(Item).add(Item(shop_id=shop.id))
        found = await uow.repo(ItemRepository).of_shop(shop.id)
        assert isinstance(uow.repo(Item), ItemRepository)
    assert [i.shop_id for i in found] == [shop.id]


@attrs.define(kw_only=True)
class Report:
    id: str = attrs.field(factory=new_id)
    pdf: str | None = None
    scan_id: str | None = None


class RegReportDocument(Document):
    pdf = FileField()
    scan_id = FileIdField()
    meta = {"collection": "reg_reports"}


async def test_file_fields_hold_file_ids_the_aggregate_owns() -> None:
    registry = Registry()
    reports = registry.add(Report, RegReportDocument)
    assert reports.file_paths == {"pdf", "scan_id"}
    report = Report(pdf=new_id(), scan_id=new_id())
    async with InMemoryUnitOfWork(registry) as uow:
        await uow.repo(Report).add(report)
        assert await uow.repo(Report).get(report.id) == report
        assert await uow.repo(Report).count(F("pdf") == report.pdf) == 1


def test_bind_registers_as_a_class_decorator() -> None:
    registry = Registry()

    @registry.bind(RegReportDocument, name="reports")
    @attrs.define(kw_only=True)
    class Filed:
        id: str = attrs.field(factory=new_id)
        scan_id: str | None = None

    assert registry.registration("reports").entity_cls is Filed
    assert registry.registration(Filed).document_cls is RegReportDocument
