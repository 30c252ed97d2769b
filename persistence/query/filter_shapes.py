"""Filters compiled once per spec shape.

Most specs an application sends differ only in their values (``F("age") >= i`` for
every ``i``).  A shape is a predicate with its values left out: the tree of comparisons,
``in`` lists (and their lengths), conjunctions, disjunctions and negations with their
paths and operators.  :class:`FilterShapes` checks a shape's paths and compiles
its filter once, with a slot where each value goes; each later spec of that shape only
has its values checked (``InvalidSpec``), converted (ids) and put in the slots.  A spec
with another kind of predicate (text matches, ``exists``, array membership) is compiled
the long way; both ways give the same filter and the same errors
(``tests/unit/test_filter_shapes.py``).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Set
from typing import Any

from persistence.engine import checked
from persistence.query.mongo_filter import compile_filter, stored_value
from persistence.query.spec_types import check_value
from persistence.schema import Schema
from persistence.specs import And, Compare, In, Not, Or, Predicate

__all__ = ["FilterShapes"]

_KEPT_SHAPES = 512  # shapes remembered per aggregate
_CONVERTED = frozenset({decimal.Decimal, datetime.date})  # stored otherwise than given


class _Slot:
    """Where the ``index``-th value of a spec goes in a compiled filter."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _shape(predicate: Any, values: list[Any], paths: list[str]) -> Any:
    """The shape of ``predicate`` (None if it has a kind of predicate shapes leave out);
    its values and their paths are appended in the order the compiler meets them."""
    kind = type(predicate)
    if kind is Compare:
        values.append(predicate.value)
        paths.append(predicate.path)
        return (0, predicate.path, predicate.op)
    if kind is In:
        values.extend(predicate.values)
        paths.extend(predicate.path for _ in predicate.values)
        return (1, predicate.path, predicate.negate, len(predicate.values))
    if kind is And or kind is Or:
        parts = []
        for item in predicate.items:
            part = _shape(item, values, paths)
            if part is None:
                return None
            parts.append(part)
        return (2 if kind is And else 3, tuple(parts))
    if kind is Not:
        inner = _shape(predicate.item, values, paths)
        return None if inner is None else (4, inner)
    return None


def _filled(template: Any, values: list[Any]) -> Any:
    kind = type(template)
    if kind is _Slot:
        return values[template.index]
    if kind is dict:
        return {key: _filled(value, values) for key, value in template.items()}
    if kind is list:
        return [_filled(value, values) for value in template]
    return template


class FilterShapes:
    """The filters of one aggregate's specs, compiled once per shape; ``value_of(path,
    value)`` makes a spec's value (an id, a ``Decimal``, a ``date``) the stored one."""

    def __init__(
        self,
        check_paths: Callable[[Predicate], None],
        check_predicate: Callable[[Predicate], None],
        schema: Schema,
        ids: Set[str],
        entity: str,
        value_of: Callable[[str, Any], Any] | None = None,
    ) -> None:
        self._check_paths = check_paths
        self._check_predicate = check_predicate
        self._schema = schema
        self._ids = ids
        self._entity = entity
        self._value_of = value_of or (lambda path, value: stored_value(path, value, ids))
        self._templates: dict[Any, Any] = {}

    def filter(self, spec: Predicate) -> dict[str, Any]:
        """The MongoDB filter of ``spec``: ``UnknownField`` for a path the entity lacks,
        ``InvalidSpec`` for a value its field cannot hold, ``UnsupportedSpec`` for an id
        that is not one (as :func:`~persistence.query.mongo_filter.compile_filter` after
        :func:`~persistence.query.spec_types.check_values`)."""
        values: list[Any] = []
        paths: list[str] = []
        shape = _shape(spec, values, paths)
        template = None if shape is None else self._templates.get(shape)
        if shape is None:  # the long way
            self._check_predicate(spec)
            return compile_filter(spec, self._ids, self._value_of)
        if template is None:
            self._check_paths(spec)
            template = self._compiled(spec, shape)
        self._check_values(values, paths)
        ids, value_of = self._ids, self._value_of
        stored = [
            value_of(path, value) if path in ids or type(value) in _CONVERTED else value
            for path, value in zip(paths, values, strict=True)
        ]
        return _filled(template, stored)  # type: ignore[no-any-return]

    def _check_values(self, values: list[Any], paths: list[str]) -> None:
        for path, value in zip(paths, values, strict=True):
            check_value(path, value, self._schema, self._ids, self._entity)

    def _compiled(self, spec: Predicate, shape: Any) -> Any:
        slots = iter(range(1 << 30))
        template = compile_filter(spec, self._ids, lambda path, value: _Slot(next(slots)))
        if self._templates and len(self._templates) >= _KEPT_SHAPES:
            self._templates.clear()
        self._templates[shape] = template
        return template


def _checked_filter(self: FilterShapes, spec: Predicate) -> dict[str, Any]:
    """``filter`` in checked mode: the long way (check the spec, compile it) must give
    the same filter, or the same error."""
    fast = checked.run(_plain_filter, self, spec)

    def long_way() -> Any:
        self._check_predicate(spec)
        return compile_filter(spec, self._ids, self._value_of)

    ref = checked.run(long_way)
    against = ("the long way (check the spec, then compile it)", "the long way")
    checked.compare("filter_shapes.filter (compiled per shape)", self._entity, fast, ref, against)
    return fast.unwrap()  # type: ignore[no-any-return]


_plain_filter = FilterShapes.filter
if checked.ENABLED:
    FilterShapes.filter = _checked_filter  # type: ignore[method-assign]
