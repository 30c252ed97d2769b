"""The ``accounts`` collection."""

from __future__ import annotations

from mongoengine import Document, IntField, StringField

from persistence.fields import VersionField


class AccountDocument(Document):
    """An account balance in cents (never negative)."""

    owner = StringField(required=True, max_length=100)
    balance = IntField(default=0, min_value=0)
    version = VersionField()

    meta = {"collection": "accounts"}
