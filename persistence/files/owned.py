"""Files owned by aggregates go with them: the ids of the files held by the entities a
removal takes away (the entities removed and, through CASCADE rules, those removed with
them), found before the removal so that the unit of work deletes them after its commit.

Which fields hold owned files is the registry's ``file_paths`` (``FileIdField`` and
``FileField`` in the Document); which removals cascade, its relations.  The look-ups go
through the repositories' own methods, so both adapters share this code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from persistence.registry import Registry
from persistence.relations import Rule
from persistence.specs import F

__all__ = ["owned_files", "owns_files"]


def owns_files(registry: Registry, name: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether removing an entity of ``name`` can take away files (its own or, through
    a cascade, those of the entities removed with it)."""
    if registry.registration(name).file_paths:
        return True
    seen = seen | {name}
    return any(
        owns_files(registry, relation.source, seen)
        for relation in registry.relations_to(name)
        if relation.rule is Rule.CASCADE and relation.source not in seen
    )


async def owned_files(uow: Any, name: str, ids: Iterable[str]) -> list[str]:
    """The ids of the files owned by entities ``ids`` of ``name`` and by every entity a
    CASCADE rule removes with them."""
    registry: Registry = uow.registry
    found: list[str] = []
    visited: set[tuple[str, str]] = set()
    pending: list[tuple[str, list[str]]] = [(name, list(ids))]
    while pending:
        current, wanted = pending.pop()
        wanted = [i for i in wanted if (current, i) not in visited]
        if not wanted or not owns_files(registry, current):
            continue
        visited.update((current, i) for i in wanted)
        paths = registry.registration(current).file_paths
        if paths:
            for entity in await uow.repository(current).get_many(wanted):
                for path in sorted(paths):
                    found.extend(_values(entity, path.split(".")))
        for relation in registry.relations_to(current):
            if relation.rule is Rule.CASCADE:
                rows = await uow.repository(relation.source).project(
                    ["id"], F(relation.field).in_(wanted)
                )
                pending.append((relation.source, [row["id"] for row in rows]))
    return list(dict.fromkeys(found))


def _values(value: Any, parts: list[str]) -> list[str]:
    """The non-empty values at ``parts`` below ``value``, through lists."""
    if isinstance(value, (list, tuple)):
        return [found for item in value for found in _values(item, parts)]
    if not parts:
        return [value] if isinstance(value, str) and value else []
    if value is None:
        return []
    inner = value.get(parts[0]) if isinstance(value, dict) else getattr(value, parts[0], None)
    return _values(inner, parts[1:])
