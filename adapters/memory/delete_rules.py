"""The delete rules of :mod:`domain.relations` applied to staged in-memory writes.

Same order as MongoEngine's ``QuerySet.delete``: every DENY rule pointing at the
table is checked first, then the other rules in declaration order (CASCADE recursing
with the same rules, NULLIFY, PULL), then the entities themselves are removed.  A
cascade never revisits an entity already being removed, so cycles terminate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from domain.errors import DeleteDenied
from domain.relations import Relation, Rule, relations_to

if TYPE_CHECKING:
    from .unit_of_work import InMemoryUnitOfWork

__all__ = ["remove_with_rules"]


def _referencing(uow: InMemoryUnitOfWork, relation: Relation, ids: set[str]) -> list[Any]:
    found = []
    for _, entity in uow.repository(relation.source).visible_items():
        value = getattr(entity, relation.field)
        refs = value if relation.many else [value]
        if any(ref in ids for ref in refs):
            found.append(entity)
    return found


def remove_with_rules(
    uow: InMemoryUnitOfWork,
    table: str,
    ids: list[str],
    removing: set[tuple[str, str]] | None = None,
) -> None:
    """Stage the removal of ``ids`` from ``table`` and everything their rules imply.

    ``DeleteDenied`` from the top-level DENY check leaves everything as it was; one
    reached through a cascade makes the unit of work rollback-only (as the cascade's
    earlier writes would stay in a MongoDB transaction).
    """
    id_set = set(ids)
    rules = relations_to(table)
    for relation in rules:
        if relation.rule is Rule.DENY and _referencing(uow, relation, id_set):
            raise DeleteDenied(
                f"cannot remove {table} {sorted(id_set)}: {relation.source}.{relation.field} "
                "refers to it"
            )
    if removing is None:  # the top level: a refusal from here on comes after writes
        try:
            _apply(uow, table, ids, rules, set())
        except DeleteDenied as error:
            raise uow.doom(error) from None
    else:
        _apply(uow, table, ids, rules, removing)


def _apply(
    uow: InMemoryUnitOfWork,
    table: str,
    ids: list[str],
    rules: list[Relation],
    removing: set[tuple[str, str]],
) -> None:
    id_set = set(ids)
    removing |= {(table, entity_id) for entity_id in ids}
    for relation in rules:
        if relation.rule is Rule.CASCADE:
            targets = [
                e.id
                for e in _referencing(uow, relation, id_set)
                if (relation.source, e.id) not in removing
            ]
            if targets:
                remove_with_rules(uow, relation.source, targets, removing)
        elif relation.rule in (Rule.NULLIFY, Rule.PULL):
            for entity in _referencing(uow, relation, id_set):
                if relation.rule is Rule.NULLIFY:
                    changed = attrs.evolve(entity, **{relation.field: None})
                else:
                    kept = [i for i in getattr(entity, relation.field) if i not in id_set]
                    changed = attrs.evolve(entity, **{relation.field: kept})
                uow.stage(relation.source, entity.id, changed)
    for entity_id in ids:
        uow.stage(table, entity_id, None)
