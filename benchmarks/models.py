"""The documents and entities the benchmarks use; each shape exists once per variant
(sync MongoEngine on alias ``bench_sync``, the async engine on ``default``)."""

from __future__ import annotations

import datetime
from typing import Any

import attrs
from mongoengine import (
    BooleanField,
    DateTimeField,
    Document,
    EmailField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    ReferenceField,
    StringField,
)

from domain.ids import new_id

__all__ = [
    "Spec",
    "Wide",
    "WideSpec",
    "person_fields",
    "wide_row",
]


def person_fields() -> dict[str, Any]:
    """The fields of ``persistence.models.UserDocument`` (so all variants do the same)."""
    return {
        "name": StringField(required=True, max_length=100),
        "email": EmailField(required=True, unique=True),
        "active": BooleanField(default=True),
        "version": IntField(default=0, min_value=0),
    }


class Spec(EmbeddedDocument):
    colour = StringField()
    weight = FloatField()


def _wide_fields() -> dict[str, Any]:
    return {
        "name": StringField(),
        "n": IntField(),
        "price": FloatField(),
        "active": BooleanField(),
        "created": DateTimeField(),
        "category": StringField(),
        "code": StringField(),
        "rank": IntField(),
        "spec": EmbeddedDocumentField(Spec),
        "tags": ListField(StringField()),
    }


def _document(name: str, fields: dict[str, Any], alias: str, collection: str) -> Any:
    meta = {"db_alias": alias, "collection": collection}
    return type(name, (Document,), {**fields, "meta": meta})


SyncPerson = _document("SyncPerson", person_fields(), "bench_sync", "people_sync")
AsyncPerson = _document("AsyncPerson", person_fields(), "default", "people_engine")
SyncWide = _document("SyncWide", _wide_fields(), "bench_sync", "wide")
AsyncWide = _document("AsyncWide", _wide_fields(), "default", "wide")
SyncBulk = _document("SyncBulk", _wide_fields(), "bench_sync", "bulk_sync")
AsyncBulk = _document("AsyncBulk", _wide_fields(), "default", "bulk_engine")
SyncAuthor = _document("SyncAuthor", {"name": StringField()}, "bench_sync", "authors_sync")
AsyncAuthor = _document("AsyncAuthor", {"name": StringField()}, "default", "authors_engine")
SyncArticle = _document(
    "SyncArticle",
    {"title": StringField(), "author": ReferenceField(SyncAuthor)},
    "bench_sync",
    "articles_sync",
)
AsyncArticle = _document(
    "AsyncArticle",
    {"title": StringField(), "author": ReferenceField(AsyncAuthor)},
    "default",
    "articles_engine",
)


@attrs.frozen(kw_only=True)
class WideSpec:
    colour: str | None = None
    weight: float | None = None


@attrs.define(kw_only=True)
class Wide:
    """The ten-field entity the repository maps the wide documents to."""

    id: str = attrs.field(factory=new_id)
    name: str | None = None
    n: int | None = None
    price: float | None = None
    active: bool | None = None
    created: datetime.datetime | None = None
    category: str | None = None
    code: str | None = None
    rank: int | None = None
    spec: WideSpec | None = None
    tags: list[str] = attrs.field(factory=list)


def wide_row(i: int) -> dict[str, Any]:
    """The stored form of wide document ``i``."""
    return {
        "name": f"item{i}",
        "n": i,
        "price": i * 0.5,
        "active": i % 2 == 0,
        "created": datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=i),
        "category": f"c{i % 7}",
        "code": f"{i:08d}",
        "rank": i % 100,
        "spec": {"colour": "red", "weight": 1.5},
        "tags": ["a", "b", f"t{i % 3}"],
    }
