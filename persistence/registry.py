"""The registry: each entity class bound to its Document class, once.

::

    registry = Registry()
    registry.add(Order, OrderDocument)                      # repository "orders" (the collection)
    registry.add(Customer, CustomerDocument, repository=CustomerRepository)

    @registry.bind(InvoiceDocument)                         # or as a decorator
    @attrs.define(kw_only=True)
    class Invoice: ...

Everything else is read from the Document, the single declaration of persistence facts:

- the repository name: the Document's collection (or ``name=``);
- unique fields: ``unique=True``, ``unique_with=`` and unique indexes in ``meta``;
- the version field: a :class:`~persistence.fields.VersionField`;
- which fields hold ids: ``ObjectIdField`` and its kinds (``IdReferenceField``,
  ``FileIdField``), ``ReferenceField``, ``LazyReferenceField`` and lists of them, in the
  Document and its embedded documents;
- which fields reference which aggregate: ``ReferenceField``, ``LazyReferenceField``,
  ``IdReferenceField`` (and lists of them) pointing at a registered Document;
- delete rules: ``reverse_delete_rule=`` (or ``register_delete_rule``), which MongoEngine
  records in the referenced Document;
- file fields: ``FileIdField`` (the aggregate owns the file) and ``FileField``.

A registration that cannot work fails with a ``RegistrationError`` naming the class and
the field: an entity field the Document lacks, a required Document field the entity
lacks, a type the mapping cannot carry, a field stored under another name, a
reference to a Document this registry does not hold (checked when the registry is first
used by a unit of work, so references may point forward).
"""

from __future__ import annotations

import datetime
import decimal
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

import attrs
import mongoengine
from mongoengine import Document
from mongoengine.base import BaseField

from persistence.engine import compat
from persistence.fields import FileIdField, IdReferenceField, VersionField
from persistence.mapping import DocumentMapper
from persistence.relations import Relation, Rule

__all__ = ["Registration", "RegistrationError", "Registry"]

E = TypeVar("E")

_RULES = {
    mongoengine.DO_NOTHING: Rule.DO_NOTHING,
    mongoengine.NULLIFY: Rule.NULLIFY,
    mongoengine.CASCADE: Rule.CASCADE,
    mongoengine.DENY: Rule.DENY,
    mongoengine.PULL: Rule.PULL,
}

_REFERENCES = (mongoengine.ReferenceField, mongoengine.LazyReferenceField, IdReferenceField)
_IDS = (mongoengine.ObjectIdField, mongoengine.ReferenceField, mongoengine.LazyReferenceField)
_FILES = (FileIdField, mongoengine.FileField)

# What a Document field carries to and from an entity (checked most specific first).
_CARRIES: tuple[tuple[type[BaseField], tuple[type, ...]], ...] = (
    (mongoengine.BooleanField, (bool,)),
    (mongoengine.IntField, (int,)),
    (mongoengine.LongField, (int,)),
    (mongoengine.FloatField, (float,)),
    (mongoengine.DecimalField, (decimal.Decimal,)),
    (mongoengine.Decimal128Field, (decimal.Decimal,)),
    (mongoengine.DateField, (datetime.date,)),  # before DateTimeField, its base
    (mongoengine.DateTimeField, (datetime.datetime,)),
    (mongoengine.StringField, (str,)),
    (mongoengine.ObjectIdField, (str,)),
    (mongoengine.ReferenceField, (str,)),
    (mongoengine.LazyReferenceField, (str,)),
    (mongoengine.FileField, (str,)),
    (mongoengine.UUIDField, (__import__("uuid").UUID,)),
    (mongoengine.DictField, (dict,)),
    (mongoengine.ListField, (list,)),
)


class RegistrationError(TypeError):
    """An entity and a Document that cannot be bound together (the message says why)."""


@attrs.define(eq=False)
class Registration(Generic[E]):
    """One registration: what repositories and units of work derive from it."""

    name: str
    entity_cls: type[E]
    document_cls: type[Document]
    repository_cls: type[Any] | None
    mapper: DocumentMapper[E, Any]
    unique: tuple[tuple[str, ...], ...]
    """Groups of fields unique together (``("email",)``, ``("shop", "sku")``)."""
    version_field: str | None
    id_paths: frozenset[str]
    """Entity paths holding ids: strings in entities, ObjectIds when stored."""
    file_paths: frozenset[str]
    """Entity paths holding ids of files the aggregate owns."""
    references: Mapping[str, tuple[type[Document], bool]]
    """Field name -> (referenced Document, whether it holds a list of ids)."""


class Registry:
    """Entity classes bound to Document classes; units of work are built from one."""

    def __init__(self) -> None:
        self._by_name: dict[str, Registration[Any]] = {}
        self._by_key: dict[type, Registration[Any]] = {}
        self._by_document: dict[type[Document], Registration[Any]] = {}
        self._relations: dict[str, list[Relation]] | None = None

    def add(
        self,
        entity_cls: type[E],
        document_cls: type[Document],
        *,
        name: str | None = None,
        repository: type[Any] | None = None,
    ) -> Registration[E]:
        """Bind ``entity_cls`` (an attrs class with an ``id``) to ``document_cls``.

        ``name`` is the repository's name (default: the collection); ``repository`` an
        aggregate's own repository class (a :class:`persistence.ports.AggregateRepository`
        subclass), which both adapters then hand out for this aggregate.
        """
        aggregate = _describe(entity_cls, document_cls, name, repository)
        for key, table, what in (
            (aggregate.name, self._by_name, "a repository named"),
            (entity_cls, self._by_key, "the entity"),
            (document_cls, self._by_document, "the Document"),
        ):
            if key in table:
                raise RegistrationError(f"this registry already holds {what} {key!r}")
        if repository is not None and repository in self._by_key:
            raise RegistrationError(f"{repository.__name__} is already registered")
        self._by_name[aggregate.name] = aggregate
        self._by_key[entity_cls] = aggregate
        self._by_document[document_cls] = aggregate
        if repository is not None:
            self._by_key[repository] = aggregate
        self._relations = None
        return aggregate

    def bind(
        self,
        document_cls: type[Document],
        *,
        name: str | None = None,
        repository: type[Any] | None = None,
    ) -> Callable[[type[E]], type[E]]:
        """``add`` as a class decorator on the entity::

            @registry.bind(OrderDocument)
            @attrs.define(kw_only=True)
            class Order: ...
        """

        def register(entity_cls: type[E]) -> type[E]:
            self.add(entity_cls, document_cls, name=name, repository=repository)
            return entity_cls

        return register

    def __iter__(self) -> Iterator[Registration[Any]]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key or key in self._by_name

    def registration(self, key: type[Any] | str) -> Registration[Any]:
        """The registration of an entity class, a repository class or a name."""
        found = self._by_name.get(key) if isinstance(key, str) else self._by_key.get(key)
        if found is None:
            label = key if isinstance(key, str) else getattr(key, "__name__", key)
            raise KeyError(
                f"{label!r} is not registered (registered: {sorted(self._by_name)}); "
                "bind it with registry.add(Entity, EntityDocument)"
            )
        return found

    def for_document(self, document_cls: type[Document]) -> Registration[Any] | None:
        """The registration of a Document class, if any."""
        return self._by_document.get(document_cls)

    @property
    def documents(self) -> list[type[Document]]:
        """Every registered Document class."""
        return list(self._by_document)

    def resolve(self) -> None:
        """Check every reference and gather the delete rules (done once, on first use).

        ``RegistrationError`` for a reference to a Document this registry lacks.
        """
        if self._relations is not None:
            return
        relations: dict[str, list[Relation]] = {name: [] for name in self._by_name}
        for aggregate in self._by_name.values():
            for field, (target_cls, _) in aggregate.references.items():
                if target_cls not in self._by_document:
                    raise RegistrationError(
                        f"{aggregate.document_cls.__name__}.{field} references "
                        f"{target_cls.__name__}, which is not registered: add "
                        f"registry.add(<its entity>, {target_cls.__name__})"
                    )
        for aggregate in self._by_name.values():
            document: Any = aggregate.document_cls
            rules = compat.meta(document).get("delete_rules") or {}
            for (source_cls, field), rule in rules.items():
                source = self._by_document.get(source_cls)
                if source is None or field not in source.references:
                    continue
                relations[aggregate.name].append(
                    Relation(
                        source.name,
                        field,
                        aggregate.name,
                        _RULES[rule],
                        many=source.references[field][1],
                    )
                )
        self._relations = relations

    def relations_to(self, name: str) -> list[Relation]:
        """The relations whose target is repository ``name``, with their delete rules,
        in declaration order."""
        self.resolve()
        assert self._relations is not None
        return list(self._relations[name])

    def relations_from(self, name: str) -> dict[str, Relation]:
        """The references of repository ``name`` by relation name (``customer`` for
        ``customer_id``), with the delete rule their target declares."""
        self.resolve()
        assert self._relations is not None
        aggregate = self._by_name[name]
        out: dict[str, Relation] = {}
        for field, (target_cls, many) in aggregate.references.items():
            target = self._by_document[target_cls].name
            rule = next(
                (r.rule for r in self._relations[target] if r.source == name and r.field == field),
                Rule.DO_NOTHING,
            )
            relation = Relation(name, field, target, rule, many=many)
            out[relation.name] = relation
        return out


# -- reading a Document ----------------------------------------------------------------


def _describe(
    entity_cls: type[E],
    document_type: type[Document],
    name: str | None,
    repository: type[Any] | None,
) -> Registration[E]:
    document_cls: Any = document_type
    if not (isinstance(entity_cls, type) and attrs.has(cast(Any, entity_cls))):
        raise RegistrationError(f"{entity_cls!r} is not an attrs class")
    if not (isinstance(document_type, type) and issubclass(document_type, Document)):
        raise RegistrationError(f"{document_cls!r} is not a MongoEngine Document class")
    if compat.meta(document_cls).get("abstract"):
        raise RegistrationError(f"{document_cls.__name__} is abstract")
    entity_fields = attrs.fields_dict(cast(Any, entity_cls))
    if "id" not in entity_fields:
        raise RegistrationError(f"{entity_cls.__name__} has no field 'id'")
    _check_fields(entity_cls, document_cls)
    id_paths = {"id"} | set(_paths(document_cls, (*_IDS, mongoengine.FileField)))
    file_paths = set(_paths(document_cls, _FILES))
    references: dict[str, tuple[type[Document], bool]] = {}
    for field_name, field in compat.fields(document_cls).items():
        many = isinstance(field, mongoengine.ListField)
        inner = field.field if many else field
        if isinstance(inner, _REFERENCES):
            references[field_name] = (inner.document_type, many)
    versions = [
        n for n, f in compat.fields(document_cls).items() if isinstance(f, VersionField)
    ]
    if len(versions) > 1:
        raise RegistrationError(f"{document_cls.__name__} has two VersionFields: {versions}")
    unique = tuple(
        tuple("id" if key == "_id" else key for key, _ in spec["fields"])
        for spec in compat.meta(document_cls).get("index_specs") or []
        if spec.get("unique")
    )
    if repository is not None:
        from persistence.ports import AggregateRepository

        if not (isinstance(repository, type) and issubclass(repository, AggregateRepository)):
            raise RegistrationError(
                f"repository={repository!r} for {entity_cls.__name__} must subclass "
                "persistence.ports.AggregateRepository"
            )
    mapper = DocumentMapper(entity_cls, document_cls, frozenset(id_paths))
    return Registration(
        name=name or compat.collection_name(document_cls),
        entity_cls=entity_cls,
        document_cls=document_cls,
        repository_cls=repository,
        mapper=mapper,
        unique=unique,
        version_field=versions[0] if versions else None,
        id_paths=frozenset(id_paths),
        file_paths=frozenset(file_paths),
        references=references,
    )


def _paths(document_cls: Any, kinds: tuple[type, ...], prefix: str = "") -> Iterator[str]:
    """Paths of fields of ``kinds``, in ``document_cls`` and its embedded documents."""
    for field_name, field in compat.fields(document_cls).items():
        if field_name == "id":
            continue
        inner = field
        while isinstance(inner, mongoengine.ListField) and inner.field is not None:
            inner = inner.field
        if isinstance(inner, kinds):
            yield prefix + field_name
        elif isinstance(inner, mongoengine.EmbeddedDocumentField):
            yield from _paths(inner.document_type, kinds, f"{prefix}{field_name}.")


def _check_fields(entity_cls: type, document_cls: Any) -> None:
    where = f"{entity_cls.__name__} / {document_cls.__name__}"
    try:
        hints = typing.get_type_hints(entity_cls)
    except Exception:
        hints = {}
    entity_fields = attrs.fields_dict(entity_cls)
    for field_name in entity_fields:
        if field_name == "id":
            continue
        field = compat.fields(document_cls).get(field_name)
        if field is None:
            raise RegistrationError(
                f"{where}: the entity field {field_name!r} has no Document field; "
                f"add it to {document_cls.__name__}"
            )
        if field.db_field != field_name:
            raise RegistrationError(
                f"{where}: field {field_name!r} is stored as {field.db_field!r}; "
                "the mapping needs db_field equal to the field name"
            )
        if field_name in hints:
            _check_type(where, field_name, hints[field_name], field)
    for field_name, field in compat.fields(document_cls).items():
        if field_name not in entity_fields and field_name != "id" and field.required:
            raise RegistrationError(
                f"{where}: the Document field {field_name!r} is required but the entity "
                "has no such field"
            )


def _check_type(where: str, path: str, annotation: Any, field: BaseField) -> None:
    options = _options(annotation)
    if options is None:
        return  # Any, a TypeVar, ...: nothing to check
    if isinstance(field, mongoengine.EmbeddedDocumentField):
        classes = [o for o in options if isinstance(o, type) and attrs.has(o)]
        if not classes and dict not in options:
            raise RegistrationError(
                f"{where}: {path!r} is an embedded document; the entity needs an attrs "
                f"class there, not {annotation!r}"
            )
        for cls in classes:
            _check_embedded(where, path, cls, field.document_type)
        return
    for field_type, carried in _CARRIES:
        if isinstance(field, field_type):
            if not any(_origin(o) in carried for o in options):
                raise RegistrationError(
                    f"{where}: {path!r} is a {type(field).__name__}, which carries "
                    f"{' or '.join(c.__name__ for c in carried)}, not {annotation!r}"
                )
            break
    if isinstance(field, mongoengine.ListField) and field.field is not None:
        for option in options:
            args = typing.get_args(option)
            if _origin(option) is list and args:
                _check_type(where, f"{path}[]", args[0], field.field)


def _check_embedded(where: str, path: str, cls: type, document_cls: Any) -> None:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    for name in attrs.fields_dict(cls):
        field = compat.fields(document_cls).get(name)
        if field is None:
            raise RegistrationError(
                f"{where}: {path}.{name} ({cls.__name__}) has no field in "
                f"{document_cls.__name__}"
            )
        if name in hints:
            _check_type(where, f"{path}.{name}", hints[name], field)


def _options(annotation: Any) -> list[Any] | None:
    """The alternatives of an annotation, None left out; None for "anything"."""
    if annotation is Any or isinstance(annotation, TypeVar):
        return None
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return None if any(o is Any for o in options) else options
    return [annotation]


def _origin(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    return origin if origin is not None else annotation
