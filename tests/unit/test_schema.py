"""Schemas: what both adapters know about an aggregate's stored paths, from its Document."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from mongoengine import DictField, Document, ListField

from adapters.registry import registry
from persistence.document_schema import document_schema
from persistence.schema import FieldType

NAMES = sorted(r.name for r in registry)


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


@pytest.mark.parametrize("name", NAMES)
def test_every_entity_path_is_known_to_the_document_schema(name: str) -> None:
    registration = registry.registration(name)
    document = document_schema(registration.document_cls)
    paths = _paths(registration.entity_cls)
    assert paths
    for path in paths:
        assert document(path) is not None, path
    for path in registration.id_paths:
        found = document(path)
        assert found is not None and "id" in (found.kind, found.element.kind), path
    for missing in ("nope", "id.nope", f"{paths[-1]}.nope"):
        assert document(missing) is None


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
    assert document_schema(registry.registration(name).document_cls)(path) == expected


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
