"""Proof by a second domain: a shop's orders, declared here and nowhere else.

The entities, their Documents and one registration each (the block between the
``declarations`` markers) are all a service needs: the whole repository and
unit-of-work contract (``subject_suite``) then runs on the ``Order`` aggregate on every
backend, with its unique ``number``, its version, its reference to a customer (removing
the customer CASCADEs to the orders), a payment that DENYs removing its order, a
shipment that goes with it (CASCADE), a list of value objects and a datetime; and the
aggregate's own repository class comes from both adapters.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import pytest
from mongoengine import (
    CASCADE,
    DENY,
    DateTimeField,
    DecimalField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ReferenceField,
    StringField,
)
from subject_suite import *  # noqa: F403  (the contract's tests)
from subject_suite import Subject

from persistence.errors import UnitOfWorkError
from persistence.fields import VersionField
from persistence.ids import new_id
from persistence.ports import AggregateRepository
from persistence.registry import Registry
from persistence.specs import F, Order, Page, desc

# -- declarations -----------------------------------------------------------------------


@attrs.define(kw_only=True)
class Customer:
    id: str = attrs.field(factory=new_id)
    name: str
    stripe_customer_id: str | None = None


@attrs.frozen(kw_only=True)
class Line:
    sku: str
    quantity: int
    price: Decimal


@attrs.define(kw_only=True)
class ShopOrder:
    id: str = attrs.field(factory=new_id)
    number: str
    customer_id: str
    placed_at: datetime.datetime
    status: str = "open"
    lines: list[Line] = attrs.field(factory=list)
    version: int = 0


@attrs.define(kw_only=True)
class Payment:
    id: str = attrs.field(factory=new_id)
    order_id: str
    amount: Decimal


@attrs.define(kw_only=True)
class Shipment:
    id: str = attrs.field(factory=new_id)
    order_id: str
    carrier: str


class CustomerDocument(Document):
    name = StringField(required=True)
    stripe_customer_id = StringField()
    meta = {"collection": "shop_customers"}


class LineDocument(EmbeddedDocument):
    sku = StringField(required=True)
    quantity = IntField(min_value=1)
    price = DecimalField(precision=2)


class ShopOrderDocument(Document):
    number = StringField(required=True, unique=True)
    customer_id = ReferenceField(CustomerDocument, required=True, reverse_delete_rule=CASCADE)
    placed_at = DateTimeField(required=True)
    status = StringField(choices=["open", "paid", "shipped"])
    lines = ListField(EmbeddedDocumentField(LineDocument))
    version = VersionField()
    meta = {"collection": "shop_orders"}


class PaymentDocument(Document):
    order_id = ReferenceField(ShopOrderDocument, required=True, reverse_delete_rule=DENY)
    amount = DecimalField(precision=2, required=True)
    meta = {"collection": "shop_payments"}


class ShipmentDocument(Document):
    order_id = ReferenceField(ShopOrderDocument, required=True, reverse_delete_rule=CASCADE)
    carrier = StringField(required=True)
    meta = {"collection": "shop_shipments"}


class OrderRepository(AggregateRepository[ShopOrder]):
    async def of_customer(self, customer_id: str, page: Page = Page()) -> list[ShopOrder]:
        return await self.find(
            F("customer_id") == customer_id, order=Order.by(desc("placed_at")), page=page
        )


shop = Registry()
shop.add(Customer, CustomerDocument)
shop.add(ShopOrder, ShopOrderDocument, name="orders", repository=OrderRepository)
shop.add(Payment, PaymentDocument)
shop.add(Shipment, ShipmentDocument)

# -- end of declarations ----------------------------------------------------------------

PLACED = datetime.datetime(2024, 5, 1, 9, 30, 15, 123456)


def _order(i: int, refs: Mapping[str, Any]) -> ShopOrder:
    lines = [Line(sku=f"SKU-{i}", quantity=i + 1, price=Decimal("9.99"))]
    return ShopOrder(
        number=f"N-{i:04d}", placed_at=PLACED + datetime.timedelta(minutes=i), lines=lines, **refs
    )


async def _a_customer(uow: Any) -> dict[str, str]:
    customer = await uow.repo(Customer).add(Customer(name="Ann", stripe_customer_id="cus_1"))
    return {"customer_id": customer.id}


SUBJECT = Subject(
    registry=shop,
    entity_cls=ShopOrder,
    factories={
        ShopOrder: _order,
        Payment: lambda i, refs: Payment(amount=Decimal("1.50"), **refs),
        Shipment: lambda i, refs: Shipment(carrier=f"carrier {i}", **refs),
    },
    sortable="placed_at",
    change=lambda o: attrs.evolve(o, status="paid"),
    prepare=_a_customer,
)

CUSTOMERS = Subject(
    registry=shop,
    entity_cls=Customer,
    factories={
        Customer: lambda i, _: Customer(name=f"Customer {i:03d}"),
        ShopOrder: _order,
    },
    sortable="name",
    change=lambda c: attrs.evolve(c, stripe_customer_id="cus_changed"),
)


@pytest.fixture(params=["orders", "customers"])
def subject(request: pytest.FixtureRequest) -> Subject:
    """The aggregate under test."""
    return SUBJECT if request.param == "orders" else CUSTOMERS


MakeUow = Callable[[], Any]


@pytest.fixture
def shop_uow(backend: Callable[[Registry], Any]) -> MakeUow:
    """Units of work over the shop's registry on the backend under test."""
    return lambda: backend(shop)


async def test_what_the_registry_derived_from_the_documents() -> None:
    orders = shop.registration(ShopOrder)
    assert orders.name == "orders"
    assert orders.unique == (("number",),)
    assert orders.version_field == "version"
    assert orders.id_paths == {"id", "customer_id"}
    assert [(r.source, r.rule.value) for r in shop.relations_to("orders")] == [
        ("shop_payments", "deny"),
        ("shop_shipments", "cascade"),
    ]
    assert list(shop.relations_from("orders")) == ["customer"]


async def test_the_aggregates_own_repository_on_every_backend(shop_uow: MakeUow) -> None:
    uow = shop_uow
    refs = await _a_customer_committed(uow)
    async with uow() as unit:
        await unit.repo(ShopOrder).add_many([_order(i, refs) for i in range(3)])
        await unit.commit()
    async with uow() as unit:
        repository = unit.repo(OrderRepository)
        assert repository is unit.repo(ShopOrder) is unit.orders
        newest = await repository.of_customer(refs["customer_id"], Page(limit=2))
    assert [o.number for o in newest] == ["N-0002", "N-0001"]


async def test_an_unawaited_operation_of_the_own_repository_fails_the_commit(
    shop_uow: MakeUow,
) -> None:
    refs = await _a_customer_committed(shop_uow)
    async with shop_uow() as unit:
        repository = unit.repo(OrderRepository)
        assert isinstance(repository, OrderRepository)
        repository.add(_order(0, refs))  # the forgotten await
        with pytest.raises(UnitOfWorkError, match=r"orders\.add .*never awaited"):
            await unit.commit()
        repository.of_customer(refs["customer_id"])  # the aggregate's own query too
        with pytest.raises(UnitOfWorkError, match=r"orders\.of_customer"):
            await unit.commit()
    async with shop_uow() as unit:
        assert await unit.orders.count() == 0


async def _a_customer_committed(uow: MakeUow) -> dict[str, str]:
    async with uow() as unit:
        refs = await _a_customer(unit)
        await unit.commit()
    return refs


async def test_a_string_field_named_like_an_id_is_just_a_string(shop_uow: MakeUow) -> None:
    uow = shop_uow
    await _a_customer_committed(uow)
    async with uow() as unit:
        found = await unit.repo(Customer).find(F("stripe_customer_id") == "cus_1")
    assert [c.name for c in found] == ["Ann"]


async def test_values_come_back_as_mongodb_returns_them(shop_uow: MakeUow) -> None:
    uow = shop_uow
    refs = await _a_customer_committed(uow)
    aware = datetime.datetime(2024, 5, 1, 11, 30, 15, 987654, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)
    ))
    order = attrs.evolve(_order(0, refs), placed_at=aware)
    async with uow() as unit:
        returned = await unit.repo(ShopOrder).add(order)
        await unit.commit()
    async with uow() as unit:
        stored = await unit.repo(ShopOrder).get(order.id)
    assert stored == returned
    # milliseconds, naive UTC: what a default (not tz-aware) MongoDB alias returns
    assert stored.placed_at == datetime.datetime(2024, 5, 1, 9, 30, 15, 987000)
    assert stored.lines == [Line(sku="SKU-0", quantity=1, price=Decimal("9.99"))]
    assert isinstance(stored.lines[0], Line)


@pytest.fixture
def memory_and_server(
    mongo_backend: Callable[[Registry], Any],
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from persistence.memory import InMemoryStore, InMemoryUnitOfWork

    store = InMemoryStore()
    return (lambda: InMemoryUnitOfWork(shop, store)), (lambda: mongo_backend(shop))


async def test_the_same_entity_reads_back_equal_from_memory_and_from_the_server(
    memory_and_server: tuple[Callable[[], Any], Callable[[], Any]],
) -> None:
    customer = Customer(name="Ann")
    order = ShopOrder(
        number="N-1",
        customer_id=customer.id,
        placed_at=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
        lines=[Line(sku="A", quantity=2, price=Decimal("0.1")), Line(sku="B", quantity=1,
                                                                     price=Decimal("3"))],
    )
    back = []
    for make in memory_and_server:
        async with make() as unit:
            await unit.repo(Customer).add(customer)
            await unit.repo(ShopOrder).add(order)
            await unit.commit()
        async with make() as unit:
            back.append(
                (
                    await unit.repo(ShopOrder).get(order.id),
                    await unit.repo(ShopOrder).project(["placed_at", "lines"]),
                )
            )
    assert back[0] == back[1]
    assert back[0][0].placed_at == datetime.datetime(2024, 2, 29, 23, 59, 59, 999000)
