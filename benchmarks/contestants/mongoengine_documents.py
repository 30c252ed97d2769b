"""The benchmark's model as MongoEngine Documents, shared by the two MongoEngine
contestants (sync MongoEngine, and this project's engine over it)."""

from __future__ import annotations

from typing import Any

from mongoengine import Document, IntField, ListField, StringField


def _document(name: str, collection: str, indexes: list[str]) -> Any:
    fields = {
        "name": StringField(),
        "age": IntField(),
        "email": StringField(),
        "tags": ListField(StringField()),
        "meta": {"collection": collection, "indexes": indexes},
    }
    return type(name, (Document,), fields)


def people_documents(prefix: str) -> tuple[Any, Any, Any]:
    """``People`` (name indexed), ``Big`` (shared, read-only) and ``Bulk``."""
    return (
        _document("People", f"{prefix}_people", ["name"]),
        _document("Big", "big", []),
        _document("Bulk", f"{prefix}_bulk", []),
    )
