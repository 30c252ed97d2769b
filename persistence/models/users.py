"""The ``users`` collection."""

from __future__ import annotations

from mongoengine import BooleanField, Document, EmailField, IntField, StringField


class UserDocument(Document):
    """A registered user; ``email`` is unique, ``version`` guards concurrent updates."""

    name = StringField(required=True, max_length=100)
    email = EmailField(required=True, unique=True)
    active = BooleanField(default=True)
    version = IntField(default=0, min_value=0)

    meta = {"collection": "users", "indexes": ["name"]}
