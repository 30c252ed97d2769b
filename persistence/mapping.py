"""Mapping between attrs entities (``domain``) and MongoEngine documents.

Entities carry ids as 24-hex strings, documents as ``ObjectId``s.  Every attrs field
maps to the Document field of the same name; nested attrs values map to embedded
documents.  Which paths hold ids is told by the registry (from the Document's field
types), never guessed from names: a loaded reference becomes its id, never a proxy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Generic, Literal, TypeVar, cast

import attrs
import bson
from bson import SON, CodecOptions, DBRef, ObjectId
from bson.errors import InvalidId
from mongoengine import Document
from mongoengine.base import BaseDict, BaseList
from mongoengine.errors import FieldDoesNotExist, ValidationError
from mongoengine.fields import GridFSProxy
from pymongo.errors import DocumentTooLarge

from persistence.codec import PLAIN_SCALARS, from_dict, to_dict
from persistence.document_errors import stored_data_error
from persistence.engine import checked, compat
from persistence.engine.from_stored import load
from persistence.ids import is_valid_id
from persistence.stored_entities import DirectPlan, direct_plan, direct_values

E = TypeVar("E")
D = TypeVar("D", bound=Document)

__all__ = [
    "DocumentMapper",
    "encode_ids",
    "kept_as_is",
    "plain",
    "stored_form",
    "to_object_id",
]


def encode_ids(
    value: Any, path: str, id_paths: Iterable[str] | frozenset[str], where: str | None = None
) -> Any:
    """``value`` (at entity path ``path``) with the ids at ``id_paths`` as ObjectIds.

    A value at an id path that is not an id (24 lowercase hex characters, as specs take
    them) is refused with MongoEngine's ``ValidationError`` naming where it is (``where``,
    by default ``path``; list elements by index), before anything is written: MongoEngine
    itself would store ``"Arena"`` in a ``ReferenceField`` as a string.
    """
    where = path if where is None else where
    if isinstance(value, dict):
        return {
            k: encode_ids(v, f"{path}.{k}" if path else k, id_paths, f"{where}.{k}" if where else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [encode_ids(v, path, id_paths, f"{where}.{i}") for i, v in enumerate(value)]
    if path in id_paths and value is not None:
        if not is_valid_id(value):
            raise ValidationError(_NOT_AN_ID, field_name=where)
        return ObjectId(value)
    return value


_NOT_AN_ID = "not an id: ids are 24 lowercase hex characters"


_KEPT = frozenset({str, float, bool, type(None), ObjectId})
_INT32 = (-(2**31), 2**31)


def kept_as_is(value: Any) -> bool:
    """True when BSON gives ``value`` back unchanged whatever the codec options: plain
    strings, floats, 32-bit integers, booleans, None and ObjectIds, in lists and
    string-keyed dicts.  (Datetimes, tuples, subclasses, integers that come back as
    ``Int64`` and the rest may come back changed.)"""
    kind = type(value)
    if kind in _KEPT:
        return True
    if kind is int:
        return bool(_INT32[0] <= value < _INT32[1])
    if kind is list:
        return all(map(kept_as_is, value))
    if kind is dict or kind is SON:
        return all(type(k) is str and kept_as_is(v) for k, v in value.items())
    return False


def stored_form(son: Any, codec_options: Any, *, max_bytes: int | None = None) -> dict[str, Any]:
    """``son`` as a server stores and returns it: encoded to BSON and decoded with the
    alias's ``codec_options`` (datetimes to milliseconds, naive unless tz-aware).
    ``DocumentTooLarge`` if the encoding is over ``max_bytes``, as a server refuses it."""
    if not isinstance(codec_options, CodecOptions):  # mongomock's own class
        codec_options = CodecOptions(
            tz_aware=codec_options.tz_aware,
            uuid_representation=codec_options.uuid_representation,
            tzinfo=codec_options.tzinfo,
        )
    data = bson.encode(son, codec_options=codec_options)
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentTooLarge(f"a document of {len(data)} bytes, over the {max_bytes} limit")
    return dict(bson.decode(data, codec_options=codec_options))


def to_object_id(entity_id: Any) -> ObjectId | None:
    """The ObjectId of an entity id, or None when it cannot be one."""
    try:
        return ObjectId(entity_id)
    except (InvalidId, TypeError):
        return None


def plain(value: Any) -> Any:
    """Document values as plain Python: embedded documents become dicts, references,
    ObjectIds and GridFS proxies become id strings."""
    if type(value) in PLAIN_SCALARS:
        return value
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, DBRef):  # AsyncReferenceProxy included
        return str(value.id)
    if isinstance(value, Document):
        return str(value.pk)
    if isinstance(value, GridFSProxy):  # a FileField's value
        return None if value.grid_id is None else str(value.grid_id)
    if compat.is_document_like(value):
        return {name: plain(compat.data(value).get(name)) for name in compat.fields(value)}
    if isinstance(value, (list, BaseList)):
        return [plain(v) for v in value]
    if isinstance(value, (dict, BaseDict)):
        return {k: plain(v) for k, v in value.items()}
    return value


class DocumentMapper(Generic[E, D]):
    """Two-way mapping between an attrs entity class and a Document class.

    Made by the registry, which has checked that the two fit together.
    """

    def __init__(
        self, entity_cls: type[E], document_cls: type[D], id_paths: frozenset[str]
    ) -> None:
        self.entity_cls = entity_cls
        self.document_cls = document_cls
        self.id_paths = id_paths
        names = [field.name for field in attrs.fields(entity_cls)]  # type: ignore[arg-type]
        self.fields = tuple(n for n in names if n != "id")
        self._holds_ids = frozenset(  # the fields with ids at or below them
            n for n in self.fields if any(p == n or p.startswith(f"{n}.") for p in id_paths)
        )
        self._direct: DirectPlan | Literal[False] | None = None  # worked out on first use

    def to_document(self, entity: E, **changed: Any) -> D:
        """A new (unsaved) document holding the entity's state, with the fields named in
        ``changed`` set to those values (built as ``_from_son(son, created=True)``
        builds it, by the engine's fast path)."""
        return self._document_and_son(entity, changed)[0]

    def _document_and_son(self, entity: E, changed: dict[str, Any]) -> tuple[D, dict[str, Any]]:
        values = to_dict(entity)
        values.update(changed)
        holds_ids = self._holds_ids
        son = {
            name: encode_ids(value, name, self.id_paths) if name in holds_ids else value
            for name in self.fields
            if (value := values[name]) is not None
        }
        if not is_valid_id(values["id"]):
            raise ValidationError(_NOT_AN_ID, field_name="id")
        son["_id"] = ObjectId(values["id"])
        return cast(D, load(self.document_cls, son, created=True)), son

    def to_document_and_stored(self, entity: E) -> tuple[D, E | None]:
        """:meth:`to_document`, and the entity as the store will hold that document
        once written (what :meth:`from_son` of its stored form gives) when that can be
        read from the entity's values directly, else None."""
        document, son = self._document_and_son(entity, {})
        plan = self._plan()
        stored = None
        if plan is not False and plan[3]:  # a plain document stores these values as is
            read = direct_values(plan, son)
            if read is not None:
                stored = from_dict(self.entity_cls, read)
        return document, stored

    def _plan(self) -> DirectPlan | Literal[False]:
        plan = self._direct
        if plan is None:
            plan = self._direct = direct_plan(self.document_cls, self.fields) or False
        return plan

    def to_entity(self, document: D) -> E:
        """The entity a loaded document describes."""
        data = compat.data(document)
        values: dict[str, Any] = {name: plain(data.get(name)) for name in self.fields}
        values["id"] = str(document.pk)
        return from_dict(self.entity_cls, values)

    def from_son(self, son: dict[str, Any]) -> E:
        """The entity a raw stored document describes: what the Document's own
        conversion makes of it (read directly when every field is stored as is, see
        :mod:`persistence.stored_entities`; else through the engine's fast path, which
        makes what ``_from_son`` makes)."""
        plan = self._plan()
        if plan is not False:
            values = direct_values(plan, son)
            if values is not None:
                return from_dict(self.entity_cls, values)
        try:
            document = load(self.document_cls, son)
        except FieldDoesNotExist as exc:  # written by something else than this layer
            raise stored_data_error(self.document_cls, self.entity_cls.__name__, son, exc) from None
        return self.to_entity(document)


# -- checked mode ---------------------------------------------------------------------------


def _entity_state(entity: Any) -> Any:
    return checked.snapshot(attrs.asdict(entity, recurse=True))


def _compare_entities(fast_path: str, document_cls: Any, fast: Any, ref: Any) -> None:
    found = checked.first_difference(_entity_state(fast), _entity_state(ref))
    if found is not None:
        raise checked.report(fast_path, document_cls, found)


def _checked_from_son(self: DocumentMapper[Any, Any], son: dict[str, Any]) -> Any:
    """``from_son`` in checked mode: a direct read must give what MongoEngine's own
    ``_from_son`` and the mapping give."""
    original = copy.deepcopy(son)
    entity = _plain_from_son(self, son)
    plan = self._plan()
    if plan is not False and direct_values(plan, original) is not None:
        with checked.reference():
            expected = self.to_entity(compat.from_son(self.document_cls, original))
        checked.note("mapping.from_son (direct read)")
        _compare_entities("mapping.from_son (direct read)", self.document_cls, entity, expected)
    return entity


def _checked_to_document_and_stored(self: DocumentMapper[Any, Any], entity: Any) -> Any:
    """``to_document_and_stored`` in checked mode: the entity as stored, when known
    without a round trip, must be what MongoEngine's serialising and loading give."""
    document, stored = _plain_to_document_and_stored(self, entity)
    if stored is not None:
        try:
            with checked.reference():
                son = stored_form(document.to_mongo(), CodecOptions())
                expected = self.to_entity(compat.from_son(self.document_cls, son))
        except Exception:  # a document the store refuses: never stored, nothing to compare
            return document, stored
        checked.note("mapping.to_document_and_stored")
        _compare_entities("mapping.to_document_and_stored", self.document_cls, stored, expected)
    return document, stored


_plain_from_son = DocumentMapper.from_son
_plain_to_document_and_stored = DocumentMapper.to_document_and_stored
if checked.ENABLED:
    DocumentMapper.from_son = _checked_from_son  # type: ignore[method-assign]
    DocumentMapper.to_document_and_stored = _checked_to_document_and_stored  # type: ignore[method-assign]
