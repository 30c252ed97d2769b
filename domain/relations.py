"""References between aggregates and what removing a referenced aggregate does.

Declared once here and honoured by every adapter, in MongoEngine's order: every
``DENY`` rule is checked first (``DeleteDenied``, nothing removed), then the other rules
run in the order :data:`RELATIONS` lists them (``CASCADE`` removes the referencing
aggregates, with their own rules, guarded against cycles; ``NULLIFY`` clears the
reference; ``PULL`` takes the id out of a list), and the aggregate goes last.

Related aggregates are loaded explicitly and in bulk (:func:`load_related`): one
``get_many`` per related repository, never one query per reference.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

__all__ = [
    "RELATIONS",
    "Loaded",
    "Relation",
    "Rule",
    "is_id_path",
    "load_related",
    "relations_from",
    "relations_to",
]

E = TypeVar("E")


class Rule(enum.Enum):
    """What removing a referenced aggregate does to the aggregates referring to it."""

    DO_NOTHING = "do_nothing"
    NULLIFY = "nullify"
    CASCADE = "cascade"
    DENY = "deny"
    PULL = "pull"


@attrs.frozen
class Relation:
    """``source.field`` holds the id (or, with ``many``, a list of ids) of a ``target``."""

    source: str
    field: str
    target: str
    rule: Rule = Rule.DO_NOTHING
    many: bool = False

    @property
    def name(self) -> str:
        """The relation's name for :func:`load_related`: ``author`` for ``author_id``,
        ``books`` for ``book_ids``."""
        if self.field.endswith("_ids"):
            return self.field.removesuffix("_ids") + "s"
        return self.field.removesuffix("_id")


RELATIONS: tuple[Relation, ...] = (
    Relation("books", "author_id", "authors", Rule.CASCADE),
    Relation("posts", "author_id", "authors", Rule.CASCADE),
    Relation("reviews", "book_id", "books", Rule.CASCADE),
    Relation("comments", "post_id", "posts", Rule.CASCADE),
    Relation("reviews", "parent_id", "reviews", Rule.CASCADE),
    Relation("books", "editor_id", "authors", Rule.NULLIFY),
    Relation("shelves", "book_ids", "books", Rule.PULL, many=True),
    Relation("contracts", "author_id", "authors", Rule.DENY),
)


def relations_to(target: str) -> list[Relation]:
    """The relations pointing at ``target``, in declaration order."""
    return [r for r in RELATIONS if r.target == target]


def relations_from(source: str) -> dict[str, Relation]:
    """The relations of ``source`` by name (``author`` for ``author_id``)."""
    return {r.name: r for r in RELATIONS if r.source == source}


def is_id_path(path: str) -> bool:
    """True for a field path that holds entity ids: ``id``, ``*_id`` and ``*_ids``."""
    return path == "id" or path.endswith(("_id", "_ids"))


@attrs.frozen
class Loaded(Generic[E]):
    """An entity with related aggregates loaded: ``related["author"]`` (None if dangling;
    a list for a ``many`` relation, dangling ids left out)."""

    entity: E
    related: Mapping[str, Any]


class _Repositories(Protocol):
    def repository(self, name: str) -> Any: ...


async def load_related(
    uow: _Repositories, source: str, entities: Sequence[E], names: Iterable[str]
) -> list[Loaded[E]]:
    """``entities`` of ``source`` with the relations ``names`` loaded.

    One ``get_many`` per related repository, however many entities and relations
    (``author`` and ``editor`` both point at ``authors``: one query).  ``KeyError`` for a
    name ``source`` has no relation for.
    """
    known = relations_from(source)
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in known:
            raise KeyError(f"{source} has no relation {name!r} (it has {sorted(known)})")
    ids_by_target: dict[str, list[str]] = {}
    for name in wanted:
        relation = known[name]
        ids = ids_by_target.setdefault(relation.target, [])
        for entity in entities:
            value = getattr(entity, relation.field)
            ids.extend(value if relation.many else [value] if value is not None else [])
    found: dict[str, dict[str, Any]] = {}
    for target, ids in ids_by_target.items():
        loaded = await uow.repository(target).get_many(ids) if ids else []
        found[target] = {item.id: item for item in loaded}
    result = []
    for entity in entities:
        related: dict[str, Any] = {}
        for name in wanted:
            relation = known[name]
            pool = found[relation.target]
            value = getattr(entity, relation.field)
            if relation.many:
                related[name] = [pool[i] for i in value if i in pool]
            else:
                related[name] = pool.get(value) if value is not None else None
        result.append(Loaded(entity, related))
    return result
