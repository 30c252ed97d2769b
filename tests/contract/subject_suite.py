"""The repository and unit-of-work contract for any registered aggregate.

A test module describes its aggregate with a :class:`Subject`, provides it as the
``subject`` fixture and star-imports this module: every test below then runs for that
aggregate on every backend (memory, mongomock, the server).  What the tests check is
derived from the registry (the unique fields, the version field, the delete rules
pointing at the aggregate, its references); the subject only says how to make valid
entities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import pytest

from persistence.errors import (
    ConcurrencyConflict,
    Conflict,
    DeleteDenied,
    NotFound,
    UnitOfWorkError,
    UnknownField,
)
from persistence.registry import Registration, Registry
from persistence.relations import Rule
from persistence.specs import F, Order, Page, desc, keyset_after

__all__ = [
    "Subject",
    "test_a_cascade_removes_the_referencing_aggregates",
    "test_a_deny_rule_refuses_the_removal_and_keeps_the_unit_usable",
    "test_a_duplicate_id_conflicts",
    "test_a_nested_block_joins_the_outer_one",
    "test_a_nested_block_that_fails_makes_the_unit_rollback_only",
    "test_a_nested_block_without_commit_or_rolled_back_marks_the_unit_rollback_only",
    "test_a_unique_clash_on_add_is_a_conflict_and_nothing_is_kept",
    "test_a_unique_clash_on_save_is_a_conflict",
    "test_add_many_keeps_none_on_a_unique_clash",
    "test_add_returns_the_stored_form_and_get_reads_it_back",
    "test_an_exception_rolls_back_and_propagates",
    "test_commit_twice_in_one_block",
    "test_concurrent_units_do_not_see_uncommitted_writes",
    "test_find_orders_pages_and_counts",
    "test_find_related_loads_the_references",
    "test_gathered_operations_of_one_unit_are_serialized",
    "test_get_many_keeps_order_and_skips_missing",
    "test_get_missing_raises_not_found",
    "test_leaving_the_block_without_commit_keeps_nothing",
    "test_mutating_a_returned_entity_changes_nothing_stored",
    "test_of_two_concurrent_saves_exactly_one_wins",
    "test_project_distinct_and_unknown_fields",
    "test_remove_then_get_raises_not_found",
    "test_repositories_refuse_use_outside_a_block",
    "test_run_does_not_retry_other_errors",
    "test_run_retries_conflicting_blocks_until_they_all_land",
    "test_save_bumps_the_version_and_a_stale_save_conflicts",
    "test_save_of_a_missing_entity_raises_not_found",
    "test_sequential_blocks_are_separate_units",
    "test_the_adapters_implement_the_ports",
    "test_the_block_goes_on_after_a_refused_write_and_rollback",
    "test_update_where_and_remove_where",
    "uow",
]

Factory = Callable[[int, Mapping[str, str]], Any]
"""``factory(i, refs)``: a valid entity number ``i`` with the reference ids ``refs``."""


@attrs.frozen
class Subject:
    """An aggregate to run the contract on.

    ``factories`` make entities of the subject's class and of every class referring to
    it (``refs`` fills the referring field); ``prepare`` adds, in an open unit of work,
    what the subject's entities need to refer to and returns those ids (passed to the
    subject's factory as ``refs``).  ``sortable`` is a field whose values grow with
    ``i``; ``change`` returns the entity with a non-unique field changed.
    """

    registry: Registry
    entity_cls: type
    factories: Mapping[type, Factory]
    sortable: str
    change: Callable[[Any], Any]
    prepare: Callable[[Any], Awaitable[dict[str, str]]] | None = None

    @property
    def registration(self) -> Registration[Any]:
        return self.registry.registration(self.entity_cls)

    @property
    def name(self) -> str:
        return self.registration.name


MakeUow = Callable[[], Any]


@pytest.fixture
def uow(backend: Callable[[Registry], Any], subject: Subject) -> MakeUow:
    """Units of work over the subject's registry, sharing this test's backend state."""
    return lambda: backend(subject.registry)


async def _refs(uow: MakeUow, subject: Subject) -> dict[str, str]:
    if subject.prepare is None:
        return {}
    async with uow() as unit:
        refs = await subject.prepare(unit)
        await unit.commit()
    return refs


async def _stored(uow: MakeUow, subject: Subject, count: int = 1) -> list[Any]:
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    async with uow() as unit:
        added = [await unit.repo(subject.entity_cls).add(make(i, refs)) for i in range(count)]
        await unit.commit()
    return added


def _unique_field(subject: Subject) -> str:
    for group in subject.registration.unique:
        if group != ("id",):
            return group[0]
    pytest.skip(f"{subject.name} has no unique field")


async def test_add_returns_the_stored_form_and_get_reads_it_back(
    uow: MakeUow, subject: Subject
) -> None:
    [added] = await _stored(uow, subject)
    async with uow() as unit:
        again = await unit.repo(subject.entity_cls).get(added.id)
    assert again == added
    assert again is not added


async def test_get_missing_raises_not_found(uow: MakeUow, subject: Subject) -> None:
    async with uow() as unit:
        with pytest.raises(NotFound):
            await unit.repo(subject.entity_cls).get("0" * 24)
        with pytest.raises(NotFound):
            await unit.repository(subject.name).get("not-an-id")


async def test_get_many_keeps_order_and_skips_missing(uow: MakeUow, subject: Subject) -> None:
    a, b = await _stored(uow, subject, 2)
    async with uow() as unit:
        found = await unit.repo(subject.entity_cls).get_many([b.id, "f" * 24, a.id, b.id])
    assert [e.id for e in found] == [b.id, a.id]


async def test_remove_then_get_raises_not_found(uow: MakeUow, subject: Subject) -> None:
    [added] = await _stored(uow, subject)
    async with uow() as unit:
        await unit.repo(subject.entity_cls).remove(added.id)
        await unit.commit()
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        with pytest.raises(NotFound):
            await repo.get(added.id)
        with pytest.raises(NotFound):
            await repo.remove(added.id)


async def test_save_bumps_the_version_and_a_stale_save_conflicts(
    uow: MakeUow, subject: Subject
) -> None:
    version = subject.registration.version_field
    if version is None:
        pytest.skip(f"{subject.name} has no version field")
    [added] = await _stored(uow, subject)
    async with uow() as unit:
        saved = await unit.repo(subject.entity_cls).save(subject.change(added))
        await unit.commit()
    assert getattr(saved, version) == getattr(added, version) + 1
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(added.id) == saved
        with pytest.raises(ConcurrencyConflict):
            await unit.repo(subject.entity_cls).save(added)  # read before the save above
        with pytest.raises(UnitOfWorkError):
            await unit.commit()
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(added.id) == saved


async def test_a_unique_clash_on_add_is_a_conflict_and_nothing_is_kept(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    field = _unique_field(subject)
    [first] = await _stored(uow, subject)
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    clash = attrs.evolve(make(7, refs), **{field: getattr(first, field)})
    other = make(8, refs)
    async with uow() as unit:
        await unit.repo(subject.entity_cls).add(other)
        with pytest.raises(Conflict) as info:
            await unit.repo(subject.entity_cls).add(clash)
        with pytest.raises(UnitOfWorkError):
            await unit.commit()
    assert info.value.field == field
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        assert await repo.get_many([clash.id]) == []
        if requires_transactions(requires):
            assert await repo.get_many([other.id]) == []  # the whole unit rolled back


def requires_transactions(requires: Callable[[str], None]) -> bool:
    try:
        requires("transactions")
    except pytest.skip.Exception:
        return False
    return True


async def test_a_unique_clash_on_save_is_a_conflict(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    field = _unique_field(subject)
    a, b = await _stored(uow, subject, 2)
    async with uow() as unit:
        with pytest.raises(Conflict) as info:
            await unit.repo(subject.entity_cls).save(attrs.evolve(b, **{field: getattr(a, field)}))
    if requires_transactions(requires):  # mongomock neither names the field nor rolls back
        assert info.value.field == field
        async with uow() as unit:
            assert await unit.repo(subject.entity_cls).get(b.id) == b


async def test_add_many_keeps_none_on_a_unique_clash(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    batch = [make(i, refs) for i in range(3)]
    async with uow() as unit:
        added = await unit.repo(subject.entity_cls).add_many(batch)
        await unit.commit()
    assert [e.id for e in added] == [e.id for e in batch]
    field = _unique_field(subject)
    clashing = [make(10, refs), attrs.evolve(make(11, refs), **{field: getattr(batch[0], field)})]
    async with uow() as unit:
        with pytest.raises(Conflict):
            await unit.repo(subject.entity_cls).add_many(clashing)
    if requires_transactions(requires):
        async with uow() as unit:
            assert await unit.repo(subject.entity_cls).count() == 3


async def test_leaving_the_block_without_commit_keeps_nothing(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    entity = subject.factories[subject.entity_cls](0, refs)
    async with uow() as unit:
        await unit.repo(subject.entity_cls).add(entity)
    with pytest.raises(RuntimeError):
        async with uow() as unit:
            await unit.repo(subject.entity_cls).add(entity)
            raise RuntimeError("boom")
    async with uow() as unit:
        await unit.repo(subject.entity_cls).add(entity)
        await unit.rollback()
        await unit.commit()
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).count() == 0


async def test_a_nested_block_that_fails_makes_the_unit_rollback_only(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    entity = subject.factories[subject.entity_cls](0, refs)
    unit = uow()
    async with unit:
        await unit.repo(subject.entity_cls).add(entity)
        with pytest.raises(ValueError):
            async with unit:
                assert unit.depth == 2
                raise ValueError("inner")
        with pytest.raises(UnitOfWorkError):
            await unit.commit()
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get_many([entity.id]) == []


async def test_repositories_refuse_use_outside_a_block(uow: MakeUow, subject: Subject) -> None:
    with pytest.raises(UnitOfWorkError):
        uow().repo(subject.entity_cls)
    with pytest.raises(UnitOfWorkError):
        getattr(uow(), subject.name)


async def test_find_orders_pages_and_counts(uow: MakeUow, subject: Subject) -> None:
    added = await _stored(uow, subject, 5)
    key = subject.sortable
    order = Order.by(desc(key))
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        everything = await repo.find(order=order)
        first_page = await repo.find(order=order, page=Page(limit=2))
        after = keyset_after(first_page[-1], order)
        second_page = await repo.find(order=order, page=Page(limit=2, after=after))
        skipped = await repo.find(order=order, page=Page(skip=4))
        top = await repo.first(order=order)
        some = await repo.count(F("id").in_([added[0].id, added[1].id]))
        exists = await repo.exists(F("id") == added[2].id)
        missing = await repo.exists(F("id") == "0" * 24)
        iterated = [e async for e in repo.iterate(order=order, batch_size=2)]
    assert everything == list(reversed(added))
    assert first_page == everything[:2]
    assert second_page == everything[2:4]
    assert skipped == everything[4:]
    assert top == everything[0]
    assert (some, exists, missing) == (2, True, False)
    assert iterated == everything


async def test_project_distinct_and_unknown_fields(uow: MakeUow, subject: Subject) -> None:
    added = await _stored(uow, subject, 3)
    key = subject.sortable
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        rows = await repo.project([key], F("id") == added[1].id)
        values = await repo.distinct(key)
        with pytest.raises(UnknownField):
            await repo.find(F("no_such_field") == 1)
        with pytest.raises(UnknownField):
            await repo.distinct("no_such_field")
    assert rows == [{"id": added[1].id, key: getattr(added[1], key)}]
    assert sorted(values) == sorted(getattr(e, key) for e in added)


async def test_update_where_and_remove_where(uow: MakeUow, subject: Subject) -> None:
    from persistence.specs import Changes

    added = await _stored(uow, subject, 3)
    version = subject.registration.version_field
    changed = subject.change(added[0])
    field, value = next(
        (name, getattr(changed, name))
        for name in attrs.fields_dict(subject.entity_cls)
        if getattr(changed, name) != getattr(added[0], name)
    )
    ids = [added[0].id, added[1].id]
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        count = await repo.update_where(F("id").in_(ids), Changes().set(field, value))
        await unit.commit()
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        after = await repo.get_many(ids)
        removed = await repo.remove_where(F("id") == added[2].id)
        await unit.commit()
    assert count == 2
    assert all(getattr(e, field) == getattr(changed, field) for e in after)
    if version is not None:
        assert all(getattr(e, version) == getattr(added[0], version) + 1 for e in after)
    assert removed == 1
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).count() == 2


async def test_a_cascade_removes_the_referencing_aggregates(
    uow: MakeUow, subject: Subject
) -> None:
    rules = [r for r in subject.registry.relations_to(subject.name) if r.rule is Rule.CASCADE]
    if not rules:
        pytest.skip(f"no CASCADE rule points at {subject.name}")
    [parent, other] = await _stored(uow, subject, 2)
    children: list[tuple[str, str]] = []
    async with uow() as unit:
        for n, relation in enumerate(rules):
            source = subject.registry.registration(relation.source).entity_cls
            value: Any = [parent.id] if relation.many else parent.id
            child = subject.factories[source](n, {relation.field: value})
            await unit.repository(relation.source).add(child)
            kept = subject.factories[source](n + 100, {relation.field: other.id})
            await unit.repository(relation.source).add(kept)
            children.append((relation.source, child.id))
            children.append((relation.source, kept.id))
        await unit.commit()
    async with uow() as unit:
        await unit.repo(subject.entity_cls).remove(parent.id)
        await unit.commit()
    async with uow() as unit:
        for n, (name, child_id) in enumerate(children):
            found = await unit.repository(name).get_many([child_id])
            assert len(found) == n % 2  # the parent's children went, the other's stayed


async def test_a_deny_rule_refuses_the_removal_and_keeps_the_unit_usable(
    uow: MakeUow, subject: Subject
) -> None:
    rules = [r for r in subject.registry.relations_to(subject.name) if r.rule is Rule.DENY]
    if not rules:
        pytest.skip(f"no DENY rule points at {subject.name}")
    [parent] = await _stored(uow, subject)
    relation = rules[0]
    source = subject.registry.registration(relation.source).entity_cls
    value: Any = [parent.id] if relation.many else parent.id
    blocker = subject.factories[source](0, {relation.field: value})
    async with uow() as unit:
        await unit.repository(relation.source).add(blocker)
        await unit.commit()
    async with uow() as unit:
        with pytest.raises(DeleteDenied):
            await unit.repo(subject.entity_cls).remove(parent.id)
        await unit.commit()  # a refusal checked before any write leaves the unit usable
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(parent.id) == parent
        await unit.repository(relation.source).remove(blocker.id)
        await unit.repo(subject.entity_cls).remove(parent.id)
        await unit.commit()
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get_many([parent.id]) == []


async def test_find_related_loads_the_references(uow: MakeUow, subject: Subject) -> None:
    relations = subject.registry.relations_from(subject.name)
    if not relations:
        pytest.skip(f"{subject.name} refers to nothing")
    [added] = await _stored(uow, subject)
    async with uow() as unit:
        [loaded] = await unit.repo(subject.entity_cls).find_related(
            F("id") == added.id, with_related=list(relations)
        )
    assert loaded.entity == added
    for name, relation in relations.items():
        value = getattr(added, relation.field)
        related = loaded.related[name]
        if relation.many:
            assert [r.id for r in related] == list(value)
        elif value is None:
            assert related is None
        else:
            assert related.id == value


# -- more of the repository contract -----------------------------------------------------


async def test_a_duplicate_id_conflicts(uow: MakeUow, subject: Subject) -> None:
    [added] = await _stored(uow, subject)
    refs = await _refs(uow, subject)
    twin = attrs.evolve(subject.factories[subject.entity_cls](50, refs), id=added.id)
    async with uow() as unit:
        with pytest.raises(Conflict) as info:
            await unit.repo(subject.entity_cls).add(twin)
    assert info.value.field == "id"
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(added.id) == added


async def test_save_of_a_missing_entity_raises_not_found(uow: MakeUow, subject: Subject) -> None:
    refs = await _refs(uow, subject)
    ghost = subject.factories[subject.entity_cls](0, refs)
    async with uow() as unit:
        with pytest.raises(NotFound):
            await unit.repo(subject.entity_cls).save(ghost)


async def test_mutating_a_returned_entity_changes_nothing_stored(
    uow: MakeUow, subject: Subject
) -> None:
    [added] = await _stored(uow, subject)
    async with uow() as unit:
        loaded = await unit.repo(subject.entity_cls).get(added.id)
        changed = subject.change(loaded)
        for name in attrs.fields_dict(subject.entity_cls):
            setattr(loaded, name, getattr(changed, name))
        await unit.commit()
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(added.id) == added


async def test_an_exception_rolls_back_and_propagates(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    [kept] = await _stored(uow, subject)
    refs = await _refs(uow, subject)
    lost = subject.factories[subject.entity_cls](60, refs)
    with pytest.raises(RuntimeError, match="boom"):
        async with uow() as unit:
            await unit.repo(subject.entity_cls).remove(kept.id)
            await unit.repo(subject.entity_cls).add(lost)
            assert await unit.repo(subject.entity_cls).get_many([lost.id])  # visible inside
            raise RuntimeError("boom")
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        assert await repo.get_many([kept.id, lost.id]) == [kept]


async def test_commit_twice_in_one_block(uow: MakeUow, subject: Subject) -> None:
    refs = await _refs(uow, subject)
    a, b = (subject.factories[subject.entity_cls](i, refs) for i in (1, 2))
    async with uow() as unit:
        await unit.repo(subject.entity_cls).add(a)
        await unit.commit()
        await unit.repo(subject.entity_cls).add(b)
        await unit.commit()
    async with uow() as unit:
        found = await unit.repo(subject.entity_cls).get_many([a.id, b.id])
    assert [e.id for e in found] == [a.id, b.id]


async def test_the_block_goes_on_after_a_refused_write_and_rollback(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    [existing] = await _stored(uow, subject)
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    before, after = make(70, refs), make(71, refs)
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        await repo.add(before)
        with pytest.raises(Conflict):
            await repo.add(attrs.evolve(make(72, refs), id=existing.id))
        with pytest.raises(UnitOfWorkError, match="earlier error"):
            await unit.commit()  # a refused write makes the unit rollback-only ...
        await repo.add(after)  # ... and the commit's refusal started it afresh
        await unit.commit()
    async with uow() as unit:
        found = await unit.repo(subject.entity_cls).get_many([before.id, after.id])
    assert [e.id for e in found] == [after.id]


async def test_concurrent_units_do_not_see_uncommitted_writes(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    entity = subject.factories[subject.entity_cls](0, refs)
    staged, checked = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with uow() as unit:
            await unit.repo(subject.entity_cls).add(entity)
            staged.set()
            await checked.wait()
            await unit.commit()

    async def reader() -> list[Any]:
        await staged.wait()
        async with uow() as unit:
            seen = await unit.repo(subject.entity_cls).get_many([entity.id])
        checked.set()
        return seen

    _, seen = await asyncio.gather(writer(), reader())
    assert seen == []
    async with uow() as unit:
        assert [e.id for e in await unit.repo(subject.entity_cls).get_many([entity.id])] == [
            entity.id
        ]


async def test_the_adapters_implement_the_ports(uow: MakeUow, subject: Subject) -> None:
    from persistence.ports import QueryRepository, UnitOfWork

    unit = uow()
    async with unit:
        assert isinstance(unit, UnitOfWork)
        assert isinstance(unit.repo(subject.entity_cls), QueryRepository)
        assert unit.repository(subject.name) is unit.repo(subject.entity_cls)
        assert getattr(unit, subject.name) is unit.repo(subject.entity_cls)
        with pytest.raises(UnitOfWorkError):
            await uow().commit()  # another unit, outside its block


# -- composing units of work ------------------------------------------------------------


async def _add_in_a_nested_block(unit: Any, entity: Any) -> None:
    async with unit:
        await unit.repo(type(entity)).add(entity)
        await unit.commit()


async def test_a_nested_block_joins_the_outer_one(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    outer, inner = make(1, refs), make(2, refs)
    unit = uow()
    with pytest.raises(RuntimeError):
        async with unit:
            await unit.repo(subject.entity_cls).add(outer)
            await _add_in_a_nested_block(unit, inner)
            assert unit.depth == 1
            raise RuntimeError("the outer block fails after the inner one committed")
    async with uow() as check:
        assert await check.repo(subject.entity_cls).count() == 0  # the inner commit did not
    async with unit:
        await unit.repo(subject.entity_cls).add(outer)
        await _add_in_a_nested_block(unit, inner)
        await unit.commit()
    async with uow() as check:
        assert await check.repo(subject.entity_cls).count() == 2


async def test_a_nested_block_without_commit_or_rolled_back_marks_the_unit_rollback_only(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    unit = uow()
    for n, end_inner in enumerate(("forgot", "rollback")):
        async with unit:
            await unit.repo(subject.entity_cls).add(make(2 * n, refs))
            async with unit:
                await unit.repo(subject.entity_cls).add(make(2 * n + 1, refs))
                if end_inner == "rollback":
                    await unit.rollback()
            with pytest.raises(UnitOfWorkError):
                await unit.commit()
    async with uow() as check:
        assert await check.repo(subject.entity_cls).count() == 0


async def test_sequential_blocks_are_separate_units(
    uow: MakeUow, subject: Subject, requires: Callable[[str], None]
) -> None:
    requires("transactions")
    refs = await _refs(uow, subject)
    make = subject.factories[subject.entity_cls]
    first, second = make(1, refs), make(2, refs)
    unit = uow()
    async with unit:
        await unit.repo(subject.entity_cls).add(first)
        await unit.commit()
    async with unit:
        assert unit.depth == 1
        await unit.repo(subject.entity_cls).add(second)
        # left without commit: only this block rolls back
    async with uow() as check:
        found = await check.repo(subject.entity_cls).get_many([first.id, second.id])
    assert [e.id for e in found] == [first.id]


async def test_gathered_operations_of_one_unit_are_serialized(
    uow: MakeUow, subject: Subject
) -> None:
    refs = await _refs(uow, subject)
    entities = [subject.factories[subject.entity_cls](i, refs) for i in range(12)]
    async with uow() as unit:
        repo = unit.repo(subject.entity_cls)
        await asyncio.gather(*(repo.add(e) for e in entities))
        found = await asyncio.gather(*(repo.get(e.id) for e in entities))
        counts = await asyncio.gather(*(repo.count() for _ in range(5)))
        await unit.commit()
    assert [e.id for e in found] == [e.id for e in entities]
    assert counts == [12] * 5


async def test_of_two_concurrent_saves_exactly_one_wins(uow: MakeUow, subject: Subject) -> None:
    version = subject.registration.version_field
    if version is None:
        pytest.skip(f"{subject.name} has no version field")
    [added] = await _stored(uow, subject)
    both_read = asyncio.Barrier(2)

    async def save(delay: float) -> Any:
        async with uow() as unit:
            current = await unit.repo(subject.entity_cls).get(added.id)
            await both_read.wait()
            saved = await unit.repo(subject.entity_cls).save(subject.change(current))
            await asyncio.sleep(delay)
            await unit.commit()
        return saved

    results = await asyncio.gather(save(0), save(0.01), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    loser = losers[0]
    assert isinstance(loser, ConcurrencyConflict) or isinstance(
        loser.__cause__, ConcurrencyConflict
    ), loser
    async with uow() as unit:
        assert await unit.repo(subject.entity_cls).get(added.id) == winners[0]


async def test_run_retries_conflicting_blocks_until_they_all_land(
    uow: MakeUow, subject: Subject
) -> None:
    version = subject.registration.version_field
    if version is None:
        pytest.skip(f"{subject.name} has no version field")
    [added] = await _stored(uow, subject)
    runs = 0

    async def bump(unit: Any) -> None:
        nonlocal runs
        runs += 1
        current = await unit.repo(subject.entity_cls).get(added.id)
        await asyncio.sleep(0)  # let the other blocks read the same version
        await unit.repo(subject.entity_cls).save(subject.change(current))

    await asyncio.gather(*(uow().run(bump) for _ in range(8)))
    async with uow() as unit:
        stored = await unit.repo(subject.entity_cls).get(added.id)
    assert getattr(stored, version) == getattr(added, version) + 8
    assert runs > 8  # some blocks conflicted and ran again


async def test_run_does_not_retry_other_errors(uow: MakeUow, subject: Subject) -> None:
    refs = await _refs(uow, subject)
    runs = []

    async def failing(unit: Any) -> None:
        runs.append(1)
        await unit.repo(subject.entity_cls).add(subject.factories[subject.entity_cls](0, refs))
        raise LookupError("not a conflict")

    with pytest.raises(LookupError):
        await uow().run(failing)
    assert runs == [1]
