"""The ``users`` collection."""

from __future__ import annotations

from mongoengine import BooleanField, Document, EmailField, StringField

from persistence.fields import VersionField


class UserDocument(Document):
    """A registered user; ``email`` is unique, ``version`` guards concurrent updates."""

    name = StringField(required=True, max_length=100)
    email = EmailField(required=True, unique=True)
    active = BooleanField(default=True)
    version = VersionField()

    meta = {"collection": "users", "indexes": ["name"]}
