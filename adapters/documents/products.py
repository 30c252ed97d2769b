"""The ``products`` collection."""

from __future__ import annotations

from mongoengine import (
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from persistence.fields import VersionField


class DimensionsDocument(EmbeddedDocument):
    """A product's size (embedded)."""

    width = FloatField()
    height = FloatField()


class ProductDocument(Document):
    """A catalogue product."""

    name = StringField(required=True, max_length=100)
    category = StringField()
    price = FloatField()
    stock = IntField(default=0)
    tags = ListField(StringField())
    dimensions = EmbeddedDocumentField(DimensionsDocument)
    version = VersionField()

    meta = {"collection": "products", "indexes": ["category", "price"]}
