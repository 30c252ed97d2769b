"""References between aggregates, what removing a referenced aggregate does, and
loading related aggregates in bulk.

The relations themselves are declared with the persistence facts (the Documents'
references and delete rules) and handed to this module by the adapters; nothing here
names an aggregate.  Delete rules follow MongoEngine's order: every ``DENY`` rule is
checked first (``DeleteDenied``, nothing removed), then the other rules run in their
declaration order (``CASCADE`` removes the referencing aggregates, with their own rules,
guarded against cycles; ``NULLIFY`` clears the reference; ``PULL`` takes the id out of a
list), and the aggregate goes last.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

__all__ = ["Loaded", "Relation", "Rule", "load_related"]

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
    """``source.field`` holds the id (with ``many``, a list of ids) of a ``target``.

    ``source`` and ``target`` are repository names.
    """

    source: str
    field: str
    target: str
    rule: Rule = Rule.DO_NOTHING
    many: bool = False

    @property
    def name(self) -> str:
        """The relation's name for :func:`load_related`: ``customer`` for ``customer_id``,
        ``lines`` for ``line_ids``, the field's own name otherwise."""
        if self.field.endswith("_ids"):
            return self.field.removesuffix("_ids") + "s"
        return self.field.removesuffix("_id")


@attrs.frozen
class Loaded(Generic[E]):
    """An entity with related aggregates loaded: ``related["author"]`` (None if dangling;
    a list for a ``many`` relation, dangling ids left out)."""

    entity: E
    related: Mapping[str, Any]


class RepositoriesByName(Protocol):
    """Where :func:`load_related` finds the related repositories (a unit of work)."""

    def repository(self, name: str) -> Any: ...


async def load_related(
    repositories: RepositoriesByName,
    relations: Mapping[str, Relation],
    entities: Sequence[E],
    names: Iterable[str],
) -> list[Loaded[E]]:
    """``entities`` with the relations ``names`` (keys of ``relations``) loaded.

    One ``get_many`` per related repository, however many entities and relations
    (two relations to the same repository: one query).  ``KeyError`` for a name
    ``relations`` lacks.
    """
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in relations:
            raise KeyError(f"no relation {name!r} (there are {sorted(relations)})")
    ids_by_target: dict[str, list[str]] = {}
    for name in wanted:
        relation = relations[name]
        ids = ids_by_target.setdefault(relation.target, [])
        for entity in entities:
            value = getattr(entity, relation.field)
            ids.extend(value if relation.many else [value] if value is not None else [])
    found: dict[str, dict[str, Any]] = {}
    for target, ids in ids_by_target.items():
        loaded = await repositories.repository(target).get_many(ids) if ids else []
        found[target] = {item.id: item for item in loaded}
    result = []
    for entity in entities:
        related: dict[str, Any] = {}
        for name in wanted:
            relation = relations[name]
            pool = found[relation.target]
            value = getattr(entity, relation.field)
            if relation.many:
                related[name] = [pool[i] for i in value if i in pool]
            else:
                related[name] = pool.get(value) if value is not None else None
        result.append(Loaded(entity, related))
    return result
