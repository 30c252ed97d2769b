"""The one spec pipeline of both adapters: check the paths, validate, compile once.

A :class:`QueryPlanner` is made per aggregate from its registration.  Each method turns
a spec into what an adapter executes (a MongoDB filter, sort, page, pipeline or update
document), refusing a path the entity lacks with ``UnknownField`` and a value or spec
it cannot translate with ``UnsupportedSpec`` before anything runs.  The adapters'
repositories then differ only in how they execute a plan.
"""

from __future__ import annotations

import datetime
import decimal
import weakref
from collections.abc import Iterable
from typing import Any

import attrs

from persistence.aggregation import Aggregation
from persistence.change_checks import check_changes
from persistence.document_schema import StoredValues, document_schema
from persistence.query.aggregation_pipeline import compile_aggregation
from persistence.query.filter_shapes import FilterShapes
from persistence.query.mongo_filter import (
    compile_changes,
    compile_sort,
    keyset_filter,
    merged_conditions,
    stored_value,
)
from persistence.query.spec_types import check_value, check_values
from persistence.registry import Registration
from persistence.specs import (
    Changes,
    Order,
    Page,
    Predicate,
    field_paths,
    validate_changes,
    validate_paths,
)

__all__ = ["FindPlan", "QueryPlanner", "UpdatePlan", "planner_for"]


@attrs.frozen
class FindPlan:
    """A find: filter, sort (stored paths, ``_id`` last), skip and limit.

    ``order_by`` is the same sort as MongoEngine ``order_by`` keys (entity paths).
    ``empty`` is true when the page asks for nothing (``limit=0``).
    """

    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    order_by: tuple[str, ...]
    skip: int
    limit: int | None
    empty: bool


@attrs.frozen
class UpdatePlan:
    """An update of every match: filter and MongoDB update document.

    ``per_document``: the result depends on stored values, so each updated document is
    validated before the write (:func:`~persistence.change_checks.updated_documents`);
    ``touched``: the top-level stored fields the update writes."""

    filter: dict[str, Any]
    update: dict[str, Any]
    per_document: bool = False
    touched: tuple[str, ...] = ()


_PLANNERS: weakref.WeakKeyDictionary[Registration[Any], QueryPlanner] = weakref.WeakKeyDictionary()


def planner_for(aggregate: Registration[Any]) -> QueryPlanner:
    """The planner of ``aggregate``, made once: every unit of work's repositories share
    its checked paths and the filters compiled per spec shape."""
    planner = _PLANNERS.get(aggregate)
    if planner is None:
        planner = _PLANNERS[aggregate] = QueryPlanner(aggregate)
    return planner


class QueryPlanner:
    """Specs of one aggregate compiled to MongoDB's query language."""

    def __init__(self, aggregate: Registration[Any]) -> None:
        self.entity_cls = aggregate.entity_cls
        self.document_cls = aggregate.document_cls
        self.name = aggregate.name
        self.ids = aggregate.id_paths
        self.schema = document_schema(aggregate.document_cls)
        self.version_field = aggregate.version_field
        self._stored = StoredValues(aggregate.document_cls)
        self._filters = FilterShapes(
            lambda spec: self.check(field_paths(spec)),
            self.check_predicate,
            self.schema,
            self.ids,
            self.entity_cls.__name__,
            self.in_query,
        )

    def in_query(self, path: str, value: Any) -> Any:
        """A spec's ``value`` at ``path`` as the store holds it: an id as an ObjectId
        (``UnsupportedSpec`` if it is not one), a ``Decimal`` or ``date`` as its field
        stores it (exactly: see :class:`~persistence.document_schema.StoredValues`)."""
        if path in self.ids:
            return stored_value(path, value, self.ids)
        return self._stored.in_query(path, value)

    def _in_change(self, path: str, value: Any) -> Any:
        if path in self.ids:
            return stored_value(path, value, self.ids)
        return self._stored.in_change(path, value)

    def check(self, paths: Iterable[str]) -> None:
        """``UnknownField`` for the first path the entity lacks."""
        validate_paths(self.entity_cls, paths)

    def check_predicate(self, spec: Predicate) -> None:
        """``UnknownField`` for a path the entity lacks, ``InvalidSpec`` for a value its
        field's declared type cannot compare with."""
        self.check(field_paths(spec))
        check_values(spec, self.schema, self.ids, self.entity_cls.__name__)

    def where(self, spec: Predicate) -> dict[str, Any]:
        """The filter selecting ``spec``'s matches (compiled once per spec shape)."""
        return self._filters.filter(spec)

    def find(self, spec: Predicate, order: Order, page: Page) -> FindPlan:
        """The find for ``spec`` in ``order``, paged (keyset paging included)."""
        where = self._filters.filter(spec)
        self.check([k.path for k in order.keys])
        query = merged_conditions([where, keyset_filter(order, page, self.ids, self.in_query)])
        keys = order.with_id()
        return FindPlan(
            filter=query,
            sort=compile_sort(order),
            order_by=tuple(f"{'-' if k.descending else ''}{k.path}" for k in keys),
            skip=page.skip,
            limit=page.limit or None,
            empty=page.limit == 0,
        )

    def project(
        self, fields: Iterable[str], spec: Predicate, order: Order, page: Page
    ) -> tuple[FindPlan, tuple[str, ...]]:
        """The find of a projection, and the checked fields."""
        fields = tuple(fields)
        self.check(fields)
        return self.find(spec, order, page), fields

    def distinct(self, path: str, spec: Predicate) -> dict[str, Any]:
        """The filter of a distinct over ``path`` (checked)."""
        self.check([path])
        return self.where(spec)

    def aggregation(self, spec: Aggregation) -> list[dict[str, Any]]:
        """The aggregation pipeline of ``spec``, its paths checked against the stored
        shape (the Document's); empty when ``spec`` asks for no rows (``limit=0``)."""
        spec.check(self.schema, self.name)
        check_values(spec.where, self.schema, self.ids, self.entity_cls.__name__)
        if spec.limit == 0:
            return []
        return compile_aggregation(spec, self.ids, self.in_query)

    def update(self, spec: Predicate, changes: Changes) -> UpdatePlan:
        """The update applying ``changes`` (validated against the entity and its
        Document's fields, see :mod:`persistence.change_checks`) to the matches; the
        version field, if any, is incremented (changes cannot write it)."""
        where = self._filters.filter(spec)
        changes = validate_changes(self.entity_cls, changes)
        entity = self.entity_cls.__name__
        for change in changes.items:  # a Decimal or date only where the field holds one
            if isinstance(change.value, (decimal.Decimal, datetime.date)):
                check_value(change.path, change.value, self.schema, self.ids, entity)
        version = self.version_field
        checked = check_changes(
            self.document_cls,
            entity,
            changes,
            version_field=version,
            in_change=self._in_change,
        )
        stored = checked.stored
        update = compile_changes(
            changes,
            self.ids,
            lambda path, value: stored[path] if path in stored else self._in_change(path, value),
        )
        if version is not None:
            update.setdefault("$inc", {})[version] = 1
        return UpdatePlan(where, update, checked.per_document, checked.touched)
