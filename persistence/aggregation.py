"""Aggregation specs: group entities (or the elements of their arrays) and compute values.

One frozen value describes the whole question; every adapter answers it the same way
(MongoDB's semantics), and refuses what it cannot answer with ``UnsupportedSpec``::

    revenue_per_sku = Aggregation(
        where=F("status") == "paid",              # which entities (a Predicate)
        unwind="items",                           # one row per line item
        by={"sku": "items.sku"},                  # the group key(s), by name
        values={
            "revenue": Sum(Field("items.quantity") * Field("items.unit_price_cents")),
            "sold": Sum("items.quantity"),
        },
        having=F("sold") > 5,                     # a Predicate on the groups' names
        order=Order.by(desc("revenue")),          # sorts the groups (keys break ties)
        limit=10,
    )
    rows = await uow.repository("orders").aggregate(revenue_per_sku)
    # [{"sku": "A-1", "revenue": 12_000, "sold": 8}, ...]

Rows are dicts with the key names then the value names, in declaration order.

Semantics (MongoDB's, on every adapter):

- ``unwind`` turns each entity into one row per element of the array (entities whose
  array is missing or empty give none, unless ``Unwind(path, keep_empty=True)``).  A
  path that goes through an array that is not unwound is refused (``UnsupportedSpec``
  naming the path): the repository's :class:`~persistence.schema.Schema` says which paths
  are arrays;
- a missing value is null; null and missing keys form one group;
- arithmetic (``+ - * /`` over numeric fields and numbers) gives null if an operand is
  null or missing; ``/`` always gives a float and gives null for a zero divisor
  (MongoDB itself would fail the whole query); int with int stays int;
- ``Count()`` counts rows; ``Sum`` adds numbers (0 if none; an int unless a float is
  involved; floats are summed without intermediate rounding, as MongoDB does);
  ``Avg`` is a float or null if there is no number; ``Min``/``Max`` skip null and
  compare across types in BSON order; ``First``/``Last`` take the value of the first/
  last row in their order (null if missing there); ``Push`` lists the values (missing
  ones left out) in its order, or unspecified; ``AddToSet`` lists distinct values in
  an unspecified order;
- groups are sorted by ``order`` then by every key ascending, BSON order; ``skip`` and
  ``limit`` page the groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import attrs

from persistence.errors import UnknownField, UnsupportedSpec
from persistence.schema import FieldType, Schema
from persistence.specs import ALL, NO_ORDER, F, Order, Predicate, SortKey, field_paths

__all__ = [
    "Accumulator",
    "AddToSet",
    "Aggregation",
    "Arith",
    "Avg",
    "Const",
    "Count",
    "Expr",
    "Field",
    "First",
    "Last",
    "Max",
    "Min",
    "Push",
    "Sum",
    "Unwind",
]

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ArithOp = Literal["+", "-", "*", "/"]


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not _PATH.match(path):
        raise UnsupportedSpec(f"not a field path: {path!r}")
    return path


# -- expressions -------------------------------------------------------------------------


class _Arithmetic:
    """``+ - * /`` between expressions and numbers build :class:`Arith` nodes."""

    __slots__ = ()

    def __add__(self, other: Any) -> Arith:
        return Arith("+", self, other)

    def __radd__(self, other: Any) -> Arith:
        return Arith("+", other, self)

    def __sub__(self, other: Any) -> Arith:
        return Arith("-", self, other)

    def __rsub__(self, other: Any) -> Arith:
        return Arith("-", other, self)

    def __mul__(self, other: Any) -> Arith:
        return Arith("*", self, other)

    def __rmul__(self, other: Any) -> Arith:
        return Arith("*", other, self)

    def __truediv__(self, other: Any) -> Arith:
        return Arith("/", self, other)

    def __rtruediv__(self, other: Any) -> Arith:
        return Arith("/", other, self)


@attrs.frozen(repr=False)
class Field(_Arithmetic):
    """The value at ``path`` in each row: ``Field("items.quantity") * 2``."""

    path: str = attrs.field(converter=_check_path)

    def __repr__(self) -> str:
        return f"Field({self.path!r})"


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsupportedSpec(f"a constant in arithmetic must be an int or float, got {value!r}")
    return value


@attrs.frozen(repr=False)
class Const(_Arithmetic):
    """A number in an expression (plain numbers are converted to it)."""

    value: int | float = attrs.field(converter=_number)

    def __repr__(self) -> str:
        return repr(self.value)


def expr(value: Any) -> Expr:
    """An expression from an expression, a ``Field``/``F``, a path string or a number."""
    if isinstance(value, (Field, Const, Arith)):
        return value
    if isinstance(value, F):
        return Field(value.path)
    if isinstance(value, str):
        return Field(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Const(value)
    raise UnsupportedSpec(
        f"not an expression: {value!r} (use Field('path'), a path string or a number)"
    )


def _operand(value: Any) -> Expr:
    if isinstance(value, str):
        raise UnsupportedSpec(
            f"a string in arithmetic is ambiguous: write Field({value!r}) for a field"
        )
    return expr(value)


@attrs.frozen(repr=False)
class Arith(_Arithmetic):
    """``left op right`` for ``op`` in ``+ - * /`` (numbers only)."""

    op: ArithOp = attrs.field()
    left: Expr = attrs.field(converter=_operand)
    right: Expr = attrs.field(converter=_operand)

    @op.validator
    def _op(self, _: Any, value: str) -> None:
        if value not in ("+", "-", "*", "/"):
            raise UnsupportedSpec(f"unknown arithmetic operator {value!r}")

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


Expr = Field | Const | Arith


def expr_fields(expression: Expr) -> Iterator[Field]:
    """Every field an expression reads."""
    if isinstance(expression, Field):
        yield expression
    elif isinstance(expression, Arith):
        yield from expr_fields(expression.left)
        yield from expr_fields(expression.right)


# -- accumulators ------------------------------------------------------------------------


def _order(value: Any) -> Order:
    if isinstance(value, Order):
        return value
    if isinstance(value, (SortKey, str)):
        return Order.by(value)
    if isinstance(value, Iterable):
        return Order.by(*value)
    raise UnsupportedSpec(f"not an order: {value!r} (use Order.by(...), asc() or desc())")


def _optional_order(value: Any) -> Order | None:
    return None if value is None else _order(value)


@attrs.frozen
class Count:
    """How many rows the group has."""


@attrs.frozen(repr=False)
class _Of:
    of: Expr = attrs.field(converter=expr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.of!r})"


@attrs.frozen(repr=False)
class Sum(_Of):
    """The sum of the numbers (0 if none)."""


@attrs.frozen(repr=False)
class Avg(_Of):
    """The mean of the numbers (a float, or None if none)."""


@attrs.frozen(repr=False)
class Min(_Of):
    """The smallest value, nulls skipped (BSON order across types)."""


@attrs.frozen(repr=False)
class Max(_Of):
    """The largest value, nulls skipped (BSON order across types)."""


@attrs.frozen(repr=False)
class AddToSet(_Of):
    """The distinct values (missing ones left out), in no particular order."""


@attrs.frozen(repr=False)
class _Ordered:
    of: Expr = attrs.field(converter=expr)
    by: Order = attrs.field(converter=_order)

    @by.validator
    def _by(self, _: Any, value: Order) -> None:
        if not value.keys:
            raise UnsupportedSpec(f"{type(self).__name__} needs an order: by=desc('path')")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.of!r}, by={self.by!r})"


@attrs.frozen(repr=False)
class First(_Ordered):
    """The value in the first row of the group, in the order ``by``."""


@attrs.frozen(repr=False)
class Last(_Ordered):
    """The value in the last row of the group, in the order ``by``."""


@attrs.frozen(repr=False)
class Push(_Of):
    """Every value (missing ones left out), in the order ``by`` (else unspecified)."""

    by: Order | None = attrs.field(default=None, converter=_optional_order)

    def __repr__(self) -> str:
        by = "" if self.by is None else f", by={self.by!r}"
        return f"Push({self.of!r}{by})"


Accumulator = Count | Sum | Avg | Min | Max | First | Last | Push | AddToSet
ACCUMULATORS = (Count, Sum, Avg, Min, Max, First, Last, Push, AddToSet)
LISTS = (Push, AddToSet)


# -- the aggregation ---------------------------------------------------------------------


@attrs.frozen(repr=False)
class Unwind:
    """One row per element of the array at ``path`` (``keep_empty``: also one row, without
    the field, for an entity whose array is missing or empty)."""

    path: str = attrs.field(converter=_check_path)
    keep_empty: bool = False

    def __repr__(self) -> str:
        flag = ", keep_empty=True" if self.keep_empty else ""
        return f"Unwind({self.path!r}{flag})"


def _unwinds(value: Any) -> tuple[Unwind, ...]:
    if isinstance(value, (str, Unwind)):
        value = (value,)
    steps = tuple(v if isinstance(v, Unwind) else Unwind(v) for v in value)
    paths = [s.path for s in steps]
    if len(set(paths)) != len(paths):
        raise UnsupportedSpec(f"an array can be unwound once: {paths}")
    return steps


def _name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UnsupportedSpec(
            f"a row name must be a letter then letters, digits or _, got {name!r}"
        )
    return name


def _keys(value: Any) -> tuple[tuple[str, Expr], ...]:
    if isinstance(value, Mapping):
        return tuple((_name(name), expr(e)) for name, e in value.items())
    if isinstance(value, str):
        value = (value,)
    keys = []
    for path in value:
        if not isinstance(path, str) or "." in path:
            raise UnsupportedSpec(
                f"name the key {path!r}: by={{'name': {path!r}}} (row names have no dots)"
            )
        keys.append((_name(path), Field(path)))
    return tuple(keys)


def _values(value: Any) -> tuple[tuple[str, Accumulator], ...]:
    if not isinstance(value, Mapping):
        raise UnsupportedSpec(f"values must map names to accumulators, got {value!r}")
    items = []
    for name, accumulator in value.items():
        if not isinstance(accumulator, ACCUMULATORS):
            raise UnsupportedSpec(
                f"{name!r}: not an accumulator: {accumulator!r} (Count(), Sum(...), ...)"
            )
        items.append((_name(name), accumulator))
    return tuple(items)


def _page(value: Any, what: str) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise UnsupportedSpec(f"{what} must be a non-negative int, got {value!r}")
    return value


def _skip(value: Any) -> int:
    if value is None:
        raise UnsupportedSpec("skip must be a non-negative int, got None")
    return int(_page(value, "skip"))


def _limit(value: Any) -> int | None:
    return _page(value, "limit")  # type: ignore[no-any-return]


@attrs.frozen(kw_only=True, repr=False)
class Aggregation:
    """Rows of groups: see the module's documentation for every part and its semantics."""

    by: tuple[tuple[str, Expr], ...] = attrs.field(converter=_keys, factory=tuple)
    values: tuple[tuple[str, Accumulator], ...] = attrs.field(converter=_values, factory=dict)
    where: Predicate = attrs.field(default=ALL)
    unwind: tuple[Unwind, ...] = attrs.field(converter=_unwinds, factory=tuple)
    having: Predicate = attrs.field(default=ALL)
    order: Order = attrs.field(default=NO_ORDER, converter=_order)
    skip: int = attrs.field(default=0, converter=_skip)
    limit: int | None = attrs.field(default=None, converter=_limit)

    def __attrs_post_init__(self) -> None:
        names = self.names
        if not names:
            raise UnsupportedSpec("an aggregation needs keys (by=...) or values (values=...)")
        if len(set(names)) != len(names):
            raise UnsupportedSpec(f"row names must be unique: {list(names)}")
        list(field_paths(self.where))  # a predicate, or UnsupportedSpec
        lists = {name for name, a in self.values if isinstance(a, LISTS)}
        for path in field_paths(self.having):
            if path not in names:
                raise UnsupportedSpec(
                    f"having names {path!r}, which is not a key or value of the "
                    f"aggregation ({', '.join(names)})"
                )
            if path in lists:
                raise UnsupportedSpec(f"having cannot test the list {path!r}")
        for key in self.order.keys:
            if key.path not in names:
                raise UnsupportedSpec(
                    f"the groups can be ordered by their keys and values "
                    f"({', '.join(names)}), not {key.path!r}"
                )
            if key.path in lists:
                raise UnsupportedSpec(f"the groups cannot be ordered by the list {key.path!r}")
        orders = {a.by for _, a in self.values if isinstance(a, (First, Last, Push)) and a.by}
        if len(orders) > 1:
            raise UnsupportedSpec(
                "First/Last/Push of one aggregation must share one order, got "
                f"{sorted(map(repr, orders))}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The row names: the keys, then the values."""
        return (*(name for name, _ in self.by), *(name for name, _ in self.values))

    @property
    def row_order(self) -> Order | None:
        """The order rows enter their groups in (for First/Last/Push), if any."""
        for _, accumulator in self.values:
            if isinstance(accumulator, (First, Last, Push)) and accumulator.by:
                return accumulator.by
        return None

    def check(self, schema: Schema, entity: str) -> None:
        """Check every path against ``schema`` before any query.

        ``UnknownField`` for a path the entity lacks; ``UnsupportedSpec`` for a path that
        crosses an array not unwound, an unwind of something that is not an array, an
        array used as a key or compared, arithmetic or a sum over non-numbers.
        """
        _Checker(schema, entity, self).run()

    def __repr__(self) -> str:
        parts = []
        if self.where != ALL:
            parts.append(f"where={self.where!r}")
        if self.unwind:
            parts.append(f"unwind={list(self.unwind)!r}")
        if self.by:
            parts.append(f"by={dict(self.by)!r}")
        if self.values:
            parts.append(f"values={dict(self.values)!r}")
        if self.having != ALL:
            parts.append(f"having={self.having!r}")
        if self.order.keys:
            parts.append(f"order={self.order!r}")
        if self.skip:
            parts.append(f"skip={self.skip}")
        if self.limit is not None:
            parts.append(f"limit={self.limit}")
        return f"Aggregation({', '.join(parts)})"


class _Checker:
    """The schema checks of :meth:`Aggregation.check`."""

    def __init__(self, schema: Schema, entity: str, spec: Aggregation) -> None:
        self.schema = schema
        self.entity = entity
        self.spec = spec
        self.unwound: dict[str, FieldType] = {}

    def run(self) -> None:
        for path in field_paths(self.spec.where):  # a predicate may cross arrays
            if self.schema(path) is None:
                raise UnknownField(self.entity, path)
        for step in self.spec.unwind:
            found = self.type_of(step.path)
            if not found.is_array:
                raise UnsupportedSpec(
                    f"{step.path!r} is not an array ({found.kind}); only arrays can be unwound"
                )
            self.unwound[step.path] = found.element
        for name, key in self.spec.by:
            if isinstance(key, Field) and self.type_of(key.path).is_array:
                raise UnsupportedSpec(
                    f"the key {name!r} is the array {key.path!r}: add Unwind({key.path!r}) "
                    "to group by its elements"
                )
            self.numeric_operands(key)
        for name, accumulator in self.spec.values:
            self.accumulator(name, accumulator)
        order = self.spec.row_order
        for sort_key in order.keys if order else ():
            if self.type_of(sort_key.path).is_array:
                raise UnsupportedSpec(f"rows cannot be ordered by the array {sort_key.path!r}")

    def type_of(self, path: str) -> FieldType:
        parts = path.split(".")
        for end in range(1, len(parts)):
            prefix = ".".join(parts[:end])
            found = self.unwound.get(prefix) or self.schema(prefix)
            if found is None:
                raise UnknownField(self.entity, path)
            if found.is_array:
                raise UnsupportedSpec(
                    f"{path!r} crosses the array {prefix!r}: add Unwind({prefix!r}) to use "
                    "each element's value"
                )
        found = self.unwound.get(path) or self.schema(path)
        if found is None:
            raise UnknownField(self.entity, path)
        return found

    def numeric_operands(self, expression: Expr) -> None:
        """Fields in arithmetic must hold numbers (a lone field may hold anything)."""
        if isinstance(expression, Arith):
            for field in expr_fields(expression):
                self.number(field.path, "arithmetic")
        elif isinstance(expression, Field):
            self.type_of(expression.path)

    def number(self, path: str, use: str) -> None:
        found = self.type_of(path)
        if found.kind not in ("number", "any"):
            raise UnsupportedSpec(f"{use} needs numbers, but {path!r} holds {found.kind} values")

    def accumulator(self, name: str, accumulator: Accumulator) -> None:
        if isinstance(accumulator, Count):
            return
        expression = accumulator.of
        self.numeric_operands(expression)
        if isinstance(accumulator, (Sum, Avg)) and isinstance(expression, Field):
            self.number(expression.path, f"{type(accumulator).__name__} ({name!r})")
        if isinstance(accumulator, (Min, Max)) and isinstance(expression, Field):
            if self.type_of(expression.path).is_array:
                raise UnsupportedSpec(
                    f"{name!r}: {type(accumulator).__name__} of the array {expression.path!r}: "
                    f"add Unwind({expression.path!r}) to compare its elements"
                )
