"""Parity of the adapters on values (issue 22, point 5), for an aggregate declared here:
aware datetimes in aggregation predicates, a reference that is not an id, ``Decimal``
and ``date`` values in specs and changes, the order of ``distinct()``, and tz-aware
reads.  Each test runs on memory, mongomock and the server.
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import attrs
import mongomock
import pytest
from mongoengine import (
    DateField,
    DateTimeField,
    Decimal128Field,
    DecimalField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ReferenceField,
    StringField,
)

from markers import backend_gap
from persistence.aggregation import Aggregation, Count, Max, Min
from persistence.engine import connect_async, disconnect_async
from persistence.errors import FilesUnsupported, InvalidEntity, InvalidSpec
from persistence.ids import new_id
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.mongo import MongoUnitOfWork
from persistence.registry import Registry
from persistence.specs import Change, Changes, F, Order

# -- declarations -----------------------------------------------------------------------


@attrs.define(kw_only=True)
class Venue:
    id: str = attrs.field(factory=new_id)
    name: str


@attrs.frozen(kw_only=True)
class Seat:
    row: str
    venue_id: str | None = None


@attrs.define(kw_only=True)
class Concert:
    id: str = attrs.field(factory=new_id)
    title: str
    venue_id: str
    starts_at: datetime.datetime
    on_sale: datetime.date | None = None
    price: Decimal = Decimal("0")
    fee: Decimal | None = None
    seats: int = 0
    guest_venue_ids: list[str] = attrs.field(factory=list)
    best_seat: Seat | None = None
    labels: list[Any] = attrs.field(factory=list)


class VenueDocument(Document):
    name = StringField(required=True)
    meta = {"collection": "parity_venues"}


class SeatDocument(EmbeddedDocument):
    row = StringField(required=True)
    venue_id = ReferenceField(VenueDocument)


class ConcertDocument(Document):
    title = StringField(required=True)
    venue_id = ReferenceField(VenueDocument, required=True)
    starts_at = DateTimeField(required=True)
    on_sale = DateField()
    price = DecimalField(precision=2)
    fee = Decimal128Field()
    seats = IntField()
    guest_venue_ids = ListField(ReferenceField(VenueDocument))
    best_seat = EmbeddedDocumentField(SeatDocument)
    labels = ListField()
    meta = {"collection": "parity_concerts"}


registry = Registry()
registry.add(Venue, VenueDocument)
registry.add(Concert, ConcertDocument)

# -- end of declarations ----------------------------------------------------------------

MakeUow = Callable[[], Any]
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = datetime.timezone.utc
NOON = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456)  # naive: UTC


@pytest.fixture
def make_uow(backend: Callable[[Registry], Any]) -> MakeUow:
    return lambda: backend(registry)


async def _stored(make_uow: MakeUow, *concerts: Concert) -> Venue:
    venue = Venue(name="Arena")
    async with make_uow() as uow:
        await uow.repo(Venue).add(venue)
        for concert in concerts:
            await uow.repo(Concert).add(attrs.evolve(concert, venue_id=venue.id))
        await uow.commit()
    return venue


def _concert(title: str, hours: int = 0, **values: Any) -> Concert:
    starts_at = NOON + datetime.timedelta(hours=hours)
    return Concert(title=title, venue_id="0" * 24, starts_at=starts_at, **values)


# -- aware datetimes in aggregation predicates ---------------------------------------------


async def test_an_aware_datetime_in_an_aggregation_where_matches_as_in_find(
    make_uow: MakeUow,
) -> None:
    await _stored(make_uow, *(_concert(f"c{i}", hours=i) for i in range(6)))
    # 16:00 in Paris (UTC+2 in May) is 14:00 UTC: c2 and later
    after = datetime.datetime(2024, 5, 1, 16, 0, 0, tzinfo=PARIS)
    spec = F("starts_at") >= after
    async with make_uow() as uow:
        concerts = uow.repo(Concert)
        found = sorted(c.title for c in await concerts.find(spec))
        counted = await concerts.count(spec)
        rows = await concerts.aggregate(
            Aggregation(where=spec, values={"n": Count(), "first": Min("starts_at")})
        )
        late = await concerts.aggregate(
            Aggregation(
                by=["title"],
                values={"at": Max("starts_at")},
                having=F("at") > datetime.datetime(2024, 5, 1, 18, 30, tzinfo=PARIS),
                order=Order.by("title"),
            )
        )
    assert found == ["c2", "c3", "c4", "c5"] and counted == 4
    assert rows == [{"n": 4, "first": datetime.datetime(2024, 5, 1, 14, 0, 0, 123000)}]
    assert [row["title"] for row in late] == ["c5"]  # 17:00 UTC is 19:00 in Paris


# -- a reference that is not an id -----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"venue_id": "Arena"}, "venue_id"),
        ({"venue_id": "0" * 23 + "G"}, "venue_id"),
        ({"guest_venue_ids": [new_id(), "Arena"]}, "guest_venue_ids.1"),
        ({"best_seat": Seat(row="A", venue_id="Arena")}, "best_seat.venue_id"),
        ({"id": "not an id"}, "id"),
    ],
)
async def test_a_reference_that_is_not_an_id_is_invalid_entity_before_any_write(
    make_uow: MakeUow, values: dict[str, Any], field: str
) -> None:
    venue = await _stored(make_uow)
    good = attrs.evolve(_concert("good"), venue_id=venue.id)
    bad = attrs.evolve(good, **{"id": new_id(), **values})
    async with make_uow() as uow:
        concerts = uow.repo(Concert)
        for write in (concerts.add, lambda c: concerts.add_many([good, c])):
            with pytest.raises(InvalidEntity) as refused:
                await write(bad)
            assert refused.value.entity == "Concert"
            assert list(refused.value.problems) == [field]
            assert "Arena" not in str(refused.value)
        await concerts.add(attrs.evolve(good, id=new_id(), title="kept"))  # the unit goes on
        await uow.commit()
    async with make_uow() as uow:
        assert [c.title for c in await uow.repo(Concert).find()] == ["kept"]
    if field == "id":
        return
    async with make_uow() as uow:  # a save of a stored entity is refused the same way
        [kept] = await uow.repo(Concert).find()
        with pytest.raises(InvalidEntity) as refused:
            await uow.repo(Concert).save(attrs.evolve(kept, **values))
        assert list(refused.value.problems) == [field]
    async with make_uow() as uow:
        assert (await uow.repo(Concert).get(kept.id)) == kept


# -- Decimal and date values in specs and changes ---------------------------------------------


async def test_decimal_and_date_values_in_specs_where_the_field_holds_them(
    make_uow: MakeUow, backend_name: str, request: pytest.FixtureRequest
) -> None:
    await _stored(
        make_uow,
        _concert("cheap", 0, price=Decimal("9.99"), fee=Decimal("0.50"),
                 on_sale=datetime.date(2024, 4, 1)),
        _concert("dear", 30, price=Decimal("120.00"), fee=Decimal("4.25"),
                 on_sale=datetime.date(2024, 4, 15)),
    )

    async def titles(spec: Any) -> list[str]:
        async with make_uow() as uow:
            return sorted(c.title for c in await uow.repo(Concert).find(spec))

    assert await titles(F("price") == Decimal("9.99")) == ["cheap"]
    assert await titles(F("price") > Decimal("9.99")) == ["dear"]
    assert await titles(F("price").in_([Decimal("120.00"), 9.99])) == ["cheap", "dear"]
    assert await titles(F("price") >= 10) == ["dear"]  # ints and floats still compare
    assert await titles(F("fee") == Decimal("4.25")) == ["dear"]
    assert await titles(F("on_sale") == datetime.date(2024, 4, 15)) == ["dear"]
    assert await titles(F("on_sale") < datetime.date(2024, 4, 15)) == ["cheap"]
    assert await titles(F("starts_at") >= datetime.date(2024, 5, 2)) == ["dear"]
    async with make_uow() as uow:
        rows = await uow.repo(Concert).aggregate(
            Aggregation(where=F("price") < Decimal("100"), values={"n": Count()})
        )
    assert rows == [{"n": 1}]


async def test_decimal128_values_order_in_specs(
    make_uow: MakeUow, backend_name: str, request: pytest.FixtureRequest
) -> None:
    backend_gap(request, backend_name, mongomock="cannot compare Decimal128 values")
    await _stored(
        make_uow,
        _concert("cheap", 0, fee=Decimal("0.50")),
        _concert("dear", 30, fee=Decimal("4.25")),
    )
    async with make_uow() as uow:
        found = await uow.repo(Concert).find(F("fee") > Decimal("1"))
    assert [c.title for c in found] == ["dear"]


async def test_decimal_and_date_values_in_changes(make_uow: MakeUow) -> None:
    await _stored(make_uow, _concert("show", price=Decimal("9.99"), fee=Decimal("1")))
    async with make_uow() as uow:
        changed = await uow.repo(Concert).update_where(
            F("title") == "show",
            Changes()
            .set("price", Decimal("12.345"))
            .set("fee", Decimal("2.5"))
            .set("on_sale", datetime.date(2024, 6, 1))
            .inc("seats", 3),
        )
        await uow.commit()
    assert changed == 1
    async with make_uow() as uow:
        [show] = await uow.repo(Concert).find()
    # stored as the Document's fields store them: the price at its precision (rounded
    # half up, as MongoEngine's DecimalField does), the date as a date
    assert (show.price, show.fee, show.on_sale, show.seats) == (
        Decimal("12.35"), Decimal("2.5"), datetime.date(2024, 6, 1), 3
    )
    async with make_uow() as uow:
        changed = await uow.repo(Concert).update_where(
            F("price") == Decimal("12.35"), Changes((Change("inc", "price", Decimal("0.65")),))
        )
        await uow.commit()
        assert changed == 1
    async with make_uow() as uow:
        assert (await uow.repo(Concert).get(show.id)).price == Decimal("13.00")


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        (F("title") == Decimal("1"), "title", "strings"),
        (F("seats") >= Decimal("1"), "seats", "numbers"),
        (F("title") == datetime.date(2024, 1, 1), "title", "strings"),
        (F("price") == datetime.date(2024, 1, 1), "price", "numbers"),
        (F("on_sale") == Decimal("1"), "on_sale", "datetimes"),
        (F("venue_id") == Decimal("1"), "venue_id", "ids"),
    ],
)
async def test_decimal_and_date_values_of_the_wrong_type_are_refused(
    make_uow: MakeUow, spec: Any, field: str, expected: str
) -> None:
    await _stored(make_uow, _concert("show"))
    async with make_uow() as uow:
        concerts = uow.repo(Concert)
        for call in (
            lambda: concerts.find(spec),
            lambda: concerts.count(spec),
            lambda: concerts.aggregate(Aggregation(where=spec, values={"n": Count()})),
            lambda: concerts.remove_where(spec),
        ):
            with pytest.raises(InvalidSpec) as refused:
                await call()
            assert refused.value.field == field and expected in refused.value.expected
        for changes in (
            Changes().set("title", Decimal("1")),
            Changes().set("seats", Decimal("1")),
            Changes().set("title", datetime.date(2024, 1, 1)),
        ):
            with pytest.raises(InvalidSpec):
                await concerts.update_where(F("title") == "show", changes)
        await uow.commit()
    async with make_uow() as uow:
        assert [(c.title, c.seats) for c in await uow.repo(Concert).find()] == [("show", 0)]


# -- the order of distinct() ---------------------------------------------------------------


LABELS = [
    "b", 2, True, "B", None, NOON, 1.5, "a", False, "é", -3, "Z", 10, "ab", NOON.replace(year=2023)
]


async def test_distinct_is_in_bson_order_on_every_adapter(make_uow: MakeUow) -> None:
    venue = await _stored(make_uow)
    async with make_uow() as uow:
        for i, label in enumerate(LABELS):  # spread over entities, some repeated
            await uow.repo(Concert).add(
                attrs.evolve(_concert(f"t{i % 5}", i), venue_id=venue.id,
                             labels=[label, LABELS[(i * 7) % len(LABELS)]])
            )
        await uow.commit()
    ms = NOON.replace(microsecond=123000)
    expected = [
        None, -3, 1.5, 2, 10, "B", "Z", "a", "ab", "b", "é",
        False, True, ms.replace(year=2023), ms,
    ]
    async with make_uow() as uow:
        concerts = uow.repo(Concert)
        assert await concerts.distinct("labels") == expected
        assert await concerts.distinct("title") == ["t0", "t1", "t2", "t3", "t4"]
        assert await concerts.distinct("seats") == [0]
        assert await concerts.distinct("title", F("labels").contains_item("é")) == ["t2", "t4"]


# -- tz-aware reads ----------------------------------------------------------------------------


@pytest.fixture
async def paris_uow(backend_name: str, mongodb_uri: str) -> AsyncIterator[MakeUow]:
    """Units of work whose reads give aware datetimes in Paris time, on each backend:
    the alias's ``tz_aware=True, tzinfo=PARIS`` (server and mongomock), the store's for
    memory."""
    if backend_name == "memory":
        store = InMemoryStore(tz_aware=True, tzinfo=PARIS)
        yield lambda: InMemoryUnitOfWork(registry, store)
        return
    name = f"tz_{uuid.uuid4().hex[:12]}"
    options: dict[str, Any] = {"tz_aware": True, "tzinfo": PARIS, "alias": "default"}
    if backend_name == "mongomock":
        options["mongo_client_class"] = mongomock.MongoClient
    else:
        options["host"] = mongodb_uri
    client = await connect_async(name, **options)
    try:
        yield lambda: MongoUnitOfWork(registry, transactions=backend_name == "mongo")
    finally:
        if backend_name == "mongo":
            await client.drop_database(name)
        await disconnect_async("default")


async def test_a_tz_aware_alias_gives_aware_datetimes_in_its_zone(paris_uow: MakeUow) -> None:
    naive = _concert("naive", 0)  # naive datetimes are UTC
    aware = _concert("aware", 0)
    aware = attrs.evolve(aware, starts_at=datetime.datetime(2024, 5, 1, 14, 0, tzinfo=PARIS))
    in_paris = datetime.datetime(2024, 5, 1, 14, 0, 0, 123000, tzinfo=PARIS)
    venue = Venue(name="Arena")
    async with paris_uow() as uow:
        await uow.repo(Venue).add(venue)
        returned = await uow.repo(Concert).add(attrs.evolve(naive, venue_id=venue.id))
        await uow.repo(Concert).add(attrs.evolve(aware, venue_id=venue.id))
        await uow.commit()
    assert returned.starts_at == in_paris and returned.starts_at.tzinfo == PARIS
    async with paris_uow() as uow:
        concerts = uow.repo(Concert)
        read = [
            (await concerts.get(naive.id)).starts_at,
            (await concerts.find(F("title") == "naive"))[0].starts_at,
            (await concerts.project(["starts_at"], F("title") == "naive"))[0]["starts_at"],
            *await concerts.distinct("starts_at", F("title") == "naive"),
            (await concerts.aggregate(Aggregation(values={"at": Max("starts_at")})))[0]["at"],
        ]
        back = await concerts.get(aware.id)
        before = datetime.datetime(2024, 5, 1, 14, 0, 0, 100000, tzinfo=PARIS)
        earlier = await concerts.find(F("starts_at") < before)
    for value in read:
        assert value == in_paris and value.utcoffset() == datetime.timedelta(hours=2), value
        assert value.tzinfo is not None and value.tzname() == "CEST"
    assert back.starts_at == datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert back.starts_at.tzname() == "CEST"
    assert [c.title for c in earlier] == ["aware"]


async def test_a_tz_aware_alias_gives_aware_file_upload_dates(
    paris_uow: MakeUow, backend_name: str
) -> None:
    """The file store reads upload dates as the alias reads datetimes (mongomock has no
    file store: its domain error, the same as without the option)."""
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    async with paris_uow() as uow:
        if backend_name == "mongomock":
            with pytest.raises(FilesUnsupported):
                await uow.files.put(b"x", filename="x.txt")
            return
        file_id = await uow.files.put(b"programme", filename="programme.txt")
        await uow.commit()
    async with paris_uow() as uow:
        info = await uow.files.info(file_id)
    assert info.upload_date is not None and info.upload_date.tzinfo is not None
    assert info.upload_date.tzname() in ("CET", "CEST")
    assert before <= info.upload_date <= datetime.datetime.now(UTC)
