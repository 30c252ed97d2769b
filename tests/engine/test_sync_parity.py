"""The add-on changes nothing that sync code on a sync alias sees."""

from __future__ import annotations

from typing import Any

from mongoengine import (
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    ListField,
    ReferenceField,
    StringField,
)

import persistence.engine  # noqa: F401


class ParityOwner(Document):
    name = StringField()
    meta = {"db_alias": "sync", "collection": "parity_owner"}


class ParityGroup(EmbeddedDocument):
    name = StringField()
    content = ListField(StringField())
    lead = ReferenceField(ParityOwner)
    members = ListField(ReferenceField(ParityOwner))


class ParityTeam(Document):
    groups = ListField(EmbeddedDocumentField(ParityGroup))
    meta = {"db_alias": "sync", "collection": "parity_team"}


def _store() -> ParityOwner:
    owner = ParityOwner(name="ada").save()
    ParityTeam(
        groups=[ParityGroup(name="core", content=["la", "le"], lead=owner, members=[owner])]
    ).save()
    return owner


def _read_through_collected_owner() -> tuple[Any, ...]:
    # Each ParityTeam.objects.first() is dropped at once: the embedded ParityGroup keeps only a
    # dead weak proxy to it, as in MongoEngine's own test of this shape.
    content = ParityTeam.objects.first().groups[0].content
    lead = ParityTeam.objects.first().groups[0].lead
    members = ParityTeam.objects.first().groups[0].members
    return content, lead, members


def test_embedded_lists_read_through_a_collected_owner(sync_db: Any) -> None:
    owner = _store()
    content, lead, members = _read_through_collected_owner()
    assert content == ["la", "le"]
    assert isinstance(lead, ParityOwner) and lead.name == "ada"
    assert [member.name for member in members] == ["ada"] and members[0].pk == owner.pk


async def test_the_same_with_an_async_alias_registered_beside_it(
    sync_db: Any, async_db: Any
) -> None:
    owner = _store()
    content, lead, members = _read_through_collected_owner()
    assert content == ["la", "le"]
    assert isinstance(lead, ParityOwner) and lead.name == "ada"
    assert [member.name for member in members] == ["ada"] and members[0].pk == owner.pk
