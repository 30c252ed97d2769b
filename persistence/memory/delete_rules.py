"""The delete rules the registered Documents declare, applied to staged in-memory writes.

Same order as MongoEngine's ``QuerySet.delete``: every DENY rule pointing at the
repository is checked first, then the other rules in declaration order (CASCADE
recursing with the same rules, NULLIFY unsetting the reference, PULL taking the id out
of the list), then the documents themselves are removed.  A cascade never revisits a
document already being removed, so cycles terminate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from persistence.errors import DeleteDenied
from persistence.relations import Relation, Rule

if TYPE_CHECKING:
    from persistence.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["remove_with_rules"]


def _refs(son: dict[str, Any], relation: Relation) -> list[str]:
    value = son.get(relation.field)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values]


def _referencing(
    uow: InMemoryUnitOfWork, relation: Relation, ids: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    source = uow.visible(relation.source)
    return [(i, son) for i, son in source if any(ref in ids for ref in _refs(son, relation))]


def remove_with_rules(
    uow: InMemoryUnitOfWork,
    name: str,
    ids: list[str],
    removing: set[tuple[str, str]] | None = None,
) -> None:
    """Stage the removal of ``ids`` from repository ``name`` and everything their rules
    imply.

    ``DeleteDenied`` from the top-level DENY check leaves everything as it was; one
    reached through a cascade makes the unit of work rollback-only (as the cascade's
    earlier writes would stay in a MongoDB transaction).
    """
    id_set = set(ids)
    rules = uow.registry.relations_to(name)
    for relation in rules:
        if relation.rule is Rule.DENY and _referencing(uow, relation, id_set):
            raise DeleteDenied(
                f"cannot remove {name} {sorted(id_set)}: {relation.source}.{relation.field} "
                "refers to it"
            )
    if removing is None:  # the top level: a refusal from here on comes after writes
        try:
            _apply(uow, name, ids, rules, set())
        except DeleteDenied as error:
            raise uow.mark_rollback_only(error) from None
    else:
        _apply(uow, name, ids, rules, removing)


def _apply(
    uow: InMemoryUnitOfWork,
    name: str,
    ids: list[str],
    rules: list[Relation],
    removing: set[tuple[str, str]],
) -> None:
    id_set = set(ids)
    removing |= {(name, entity_id) for entity_id in ids}
    for relation in rules:
        if relation.rule is Rule.CASCADE:
            targets = [
                i
                for i, _ in _referencing(uow, relation, id_set)
                if (relation.source, i) not in removing
            ]
            if targets:
                remove_with_rules(uow, relation.source, targets, removing)
        elif relation.rule in (Rule.NULLIFY, Rule.PULL):
            for entity_id, son in _referencing(uow, relation, id_set):
                changed = dict(son)
                if relation.rule is Rule.NULLIFY:
                    changed.pop(relation.field, None)
                else:
                    changed[relation.field] = [
                        v for v in son[relation.field] if str(v) not in id_set
                    ]
                uow.stage(relation.source, entity_id, changed)
    for entity_id in ids:
        uow.stage(name, entity_id, None)
