"""The ``orders`` collection: sales orders with embedded line items."""

from __future__ import annotations

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    StringField,
)

from persistence.fields import VersionField

__all__ = ["LineItemDocument", "SalesOrderDocument"]


class LineItemDocument(EmbeddedDocument):
    """One line of an order (embedded)."""

    sku = StringField(required=True, max_length=100)
    quantity = IntField(required=True, min_value=1)
    unit_price_cents = IntField(required=True, min_value=0)


class SalesOrderDocument(Document):
    """A customer's order."""

    customer = StringField(required=True, max_length=100)
    status = StringField(default="open", choices=("open", "paid", "cancelled"))
    items = ListField(EmbeddedDocumentField(LineItemDocument))
    placed_at = DateTimeField()
    version = VersionField()

    meta = {"collection": "orders", "indexes": ["customer", "items.sku"]}
