"""Schemas: what each adapter knows about its stored paths, from entity or Document."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from mongoengine import DictField, Document, ListField

from domain.aggregates import AGGREGATES
from domain.schema import FieldType, entity_schema
from persistence.document_schema import document_schema
from persistence.models import DOCUMENTS


def _paths(cls: Any, prefix: str = "") -> list[str]:
    """Every attrs field path of ``cls``, nested value objects (in lists too) included."""
    attrs.resolve_types(cls)
    paths = []
    for field in attrs.fields(cls):
        path = f"{prefix}{field.name}"
        paths.append(path)
        for arg in (field.type, *getattr(field.type, "__args__", ())):
            for inner in (arg, *getattr(arg, "__args__", ())):
                if isinstance(inner, type) and attrs.has(inner):
                    paths.extend(_paths(inner, f"{path}."))
    return paths


@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_entity_and_document_schemas_agree(name: str) -> None:
    entity = entity_schema(AGGREGATES[name].entity_cls)
    document = document_schema(DOCUMENTS[name])
    paths = _paths(AGGREGATES[name].entity_cls)
    assert paths
    for path in paths:
        assert entity(path) == document(path), path
        assert entity(path) is not None
    for missing in ("nope", "id.nope", f"{paths[-1]}.nope"):
        assert entity(missing) is None and document(missing) is None


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("orders", "items", FieldType("array", FieldType("object"))),
        ("orders", "items.sku", FieldType("string")),
        ("orders", "items.quantity", FieldType("number")),
        ("orders", "customer", FieldType("string")),
        ("products", "tags", FieldType("array", FieldType("string"))),
        ("products", "dimensions", FieldType("object")),
        ("products", "dimensions.width", FieldType("number")),
        ("products", "price", FieldType("number")),
        ("books", "author_id", FieldType("id")),
        ("books", "editor_id", FieldType("id")),
        ("books", "attachments.file_id", FieldType("id")),
        ("shelves", "book_ids", FieldType("array", FieldType("id"))),
        ("posts", "published", FieldType("bool")),
        ("users", "id", FieldType("id")),
    ],
)
def test_kinds(name: str, path: str, expected: FieldType) -> None:
    assert entity_schema(AGGREGATES[name].entity_cls)(path) == expected
    assert document_schema(DOCUMENTS[name])(path) == expected


def test_open_document_fields_accept_any_path_below() -> None:
    class Loose(Document):
        extra = DictField()
        bag = ListField()
        meta = {"abstract": True}

    schema = document_schema(Loose)
    assert schema("extra") == FieldType("any")
    assert schema("extra.a.b") == FieldType("any")
    assert schema("bag") == FieldType("array", FieldType("any"))
    assert schema("bag.x") == FieldType("any")
    assert schema("other") is None
