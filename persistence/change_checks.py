"""``update_where`` changes checked against the Document's fields before any write.

A change set must never leave a stored document its Document would refuse.  What a
change does is known before anything runs for most changes: a ``set`` or ``push``
value goes through the field's conversion and validation (type, choices, bounds,
lengths, regex, the field's own ``validation``) and is stored as saving stores it; an
``unset`` of a required field, an ``inc`` of a field that holds no number, changes of
the version field or the id are refused.  What depends on the stored value (an ``inc``
past a bound, a ``push`` past a list's ``max_length``, a ``pull`` emptying a required
list, or anything when the Document has its own ``clean``) is checked per document:
:func:`updated_documents` applies the update to the matched documents in Python (with
mongomock's update engine) and validates each through the Document, so a refusal
writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import mongomock
from mongoengine import fields
from mongoengine.base import BaseDocument
from mongoengine.errors import ValidationError

from persistence.document_errors import loaded, validation_problems
from persistence.engine import compat
from persistence.errors import InvalidEntity, InvalidSpec
from persistence.specs import Change, Changes

__all__ = ["ChangeCheck", "check_changes", "updated_documents"]

_NUMBERS = (
    fields.IntField,
    fields.LongField,
    fields.FloatField,
    fields.DecimalField,
    fields.Decimal128Field,
)
_INTEGERS = (fields.IntField, fields.LongField)
_PLAIN = (  # fields storing a value as saving stores it: to_mongo(to_python(value))
    fields.IntField,
    fields.LongField,
    fields.FloatField,
    fields.StringField,
    fields.DateTimeField,
    fields.DateField,
)


@attrs.frozen
class ChangeCheck:
    """What :func:`check_changes` found.

    ``stored``: the value each ``set``/``push`` path stores (converted by its field);
    ``per_document``: the result depends on stored values and must be validated per
    document; ``touched``: the top-level fields the changes write (their old values
    guard the write of a per-document check)."""

    stored: dict[str, Any]
    per_document: bool
    touched: tuple[str, ...]


def _field_at(document_cls: type[Any], path: str) -> tuple[Any, bool]:
    """The field at ``path`` and whether the path goes through a list (None if the
    Document does not declare it)."""
    declared: dict[str, Any] = compat.fields(document_cls)
    field: Any = None
    through_list = False
    for part in path.split("."):
        if field is not None:
            while isinstance(field, fields.ListField):
                through_list = True
                field = field.field
            if not isinstance(field, fields.EmbeddedDocumentField):
                return None, through_list
            declared = compat.fields(field.document_type)
        field = declared.get(part)
        if field is None:
            return None, through_list
    return field, through_list


def _refused(entity: str, path: str, error: ValidationError) -> InvalidEntity:
    reasons = validation_problems(error)
    reason = "; ".join(reasons.values()) or str(error)
    return InvalidEntity(entity, {path: reason})


def _checked_value(entity: str, path: str, field: Any, value: Any) -> Any:
    """``value`` validated by ``field`` as saving validates it, and as it stores it
    (a plain scalar field's conversion; other values are left to the planner)."""
    check: Callable[[Any], None] = getattr(field, "_validate")  # noqa: B009
    try:
        check(value)
        if isinstance(field, _PLAIN):
            converted = field.to_python(value)
            check(converted)
            return field.to_mongo(converted)
    except ValidationError as exc:
        raise _refused(entity, path, exc) from None
    except (TypeError, ValueError) as exc:
        raise InvalidEntity(entity, {path: str(exc)[:120]}) from None
    return value


def _may_refuse(field: Any) -> bool:
    """Whether the value a computed change makes can break ``field``'s rules."""
    if field.validation is not None or field.choices:
        return True
    if isinstance(field, _NUMBERS):
        return field.min_value is not None or field.max_value is not None
    if isinstance(field, fields.ListField):
        return bool(field.required or field.max_length is not None)
    return True


def check_changes(
    document_cls: type[Any],
    entity: str,
    changes: Changes,
    *,
    version_field: str | None,
    in_change: Callable[[str, Any], Any],
) -> ChangeCheck:
    """Check ``changes`` against ``document_cls`` (see the module's docstring):
    ``InvalidSpec`` for a change of the version field or the id, or an operation the
    field cannot take; ``InvalidEntity`` naming the field for a value it refuses."""
    stored: dict[str, Any] = {}
    per_document = getattr(document_cls, "clean") is not BaseDocument.clean  # noqa: B009
    touched: list[str] = []
    for change in changes.items:
        path = change.path
        top = path.split(".")[0]
        if top in ("id", "_id", "pk") or (version_field is not None and top == version_field):
            what = "id" if top in ("id", "_id", "pk") else "version field"
            raise InvalidSpec(
                entity,
                path,
                message=f"{entity}.{path} is the {what}: changes cannot write it "
                "(the layer sets it; use save() for a versioned change)",
            )
        touched.append(top)
        field, through_list = _field_at(document_cls, path)
        if field is None or through_list or "." in path:
            # a path inside an embedded document may create it (without its required
            # fields), one through a list means what MongoDB makes of it: check the result
            per_document = True
            if field is None:
                continue
        needs_check = _check_one(entity, change, field, stored, in_change)
        per_document = per_document or needs_check
    return ChangeCheck(stored, per_document, tuple(dict.fromkeys(touched)))


def _check_one(
    entity: str,
    change: Change,
    field: Any,
    stored: dict[str, Any],
    in_change: Callable[[str, Any], Any],
) -> bool:
    """Check one change; True when its result must be checked per document."""
    path, op, value = change.path, change.op, change.value
    if op == "unset" or (op == "set" and value is None):
        if field.required:
            raise InvalidEntity(entity, {path: "Field is required"})
        return False
    if op == "set":
        stored[path] = _checked_value(entity, path, field, in_change(path, value))
        return False
    if op == "inc":
        if not isinstance(field, _NUMBERS):
            raise InvalidSpec(
                entity, path, message=f"{entity}.{path} holds no number: inc cannot change it"
            )
        if isinstance(field, _INTEGERS) and not isinstance(value, int):
            raise InvalidSpec(
                entity,
                path,
                message=f"{entity}.{path} holds integers: inc it by an int, not {value!r}",
            )
        return _may_refuse(field)
    # push / pull: a list field, its elements checked by the element field
    if not isinstance(field, fields.ListField):
        raise InvalidSpec(
            entity, path, message=f"{entity}.{path} is not a list: {op} cannot change it"
        )
    element = field.field
    if op == "push" and element is not None:
        stored[path] = _checked_value(entity, path, element, in_change(path, value))
    return _may_refuse(field)


def updated_documents(
    document_cls: type[Any],
    entity: str,
    docs: Iterable[dict[str, Any]],
    update: dict[str, Any],
    *,
    validate: bool = True,
) -> list[dict[str, Any]]:
    """``docs`` with ``update`` applied (as MongoDB applies it), each validated by
    ``document_cls`` unless not ``validate``: ``InvalidEntity`` naming the fields of
    the first it refuses."""
    scratch: Any = mongomock.MongoClient().db.entities
    docs = [copy.deepcopy(doc) for doc in docs]
    if not docs:
        return []
    scratch.insert_many(docs)
    scratch.update_many({}, update)
    updated: list[dict[str, Any]] = list(scratch.find())
    for son in updated if validate else ():
        try:
            loaded(document_cls, entity, son).validate()
        except ValidationError as exc:
            problems = validation_problems(exc)
            after = f"after the change, in {entity} {str(son['_id'])!r}"
            raise InvalidEntity(
                entity, {path: f"{why} ({after})" for path, why in problems.items()}
            ) from None
    return updated
