"""What the outbox crash test and its consumer processes share: counters that writers
increment (each increment publishes ``Counted`` with the new value), and the effects a
consumer applies (one ``Effect`` per event; ``Applied`` per key: the last value applied,
so an effect out of order is seen in the transaction that applies it)."""

from __future__ import annotations

import attrs
from mongoengine import BooleanField, Document, IntField, StringField

from persistence.fields import VersionField
from persistence.ids import new_id
from persistence.outbox import domain_event
from persistence.registry import Registry

ALIAS = "outbox_crash"
DATABASE = "outbox_crash_db"
CONSUMER = "effects"
PARTITIONS = 3


@attrs.define(kw_only=True)
class Tally:
    id: str = attrs.field(factory=new_id)
    name: str
    value: int = 0
    version: int = 0


@attrs.define(kw_only=True)
class Applied:
    id: str = attrs.field(factory=new_id)
    key: str
    last: int = 0
    version: int = 0


@attrs.define(kw_only=True)
class Effect:
    id: str = attrs.field(factory=new_id)
    event: str
    key: str
    value: int
    tag: str
    in_order: bool


class TallyDocument(Document):
    name = StringField(required=True, unique=True)
    value = IntField(required=True)
    version = VersionField()
    meta = {"collection": "oc_tallies"}


class AppliedDocument(Document):
    key = StringField(required=True, unique=True)
    last = IntField(required=True)
    version = VersionField()
    meta = {"collection": "oc_applied"}


class EffectDocument(Document):
    event = StringField(required=True)  # not unique: an effect applied twice shows twice
    key = StringField(required=True)
    value = IntField(required=True)
    tag = StringField(required=True)
    in_order = BooleanField(required=True)
    meta = {"collection": "oc_effects"}


crash_registry = Registry()
crash_registry.add(Tally, TallyDocument)
crash_registry.add(Applied, AppliedDocument)
crash_registry.add(Effect, EffectDocument)


@domain_event("crash.counted", key="key")
@attrs.frozen
class Counted:
    key: str
    value: int  # the tally's value after the increment (-1: from a block that rolls back)
    tag: str  # unique per block
