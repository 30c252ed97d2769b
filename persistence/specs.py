"""The query-spec language: a small, closed set of frozen values describing queries.

Specs are data, never callables, so every adapter can translate every spec (or refuse
it with ``UnsupportedSpec``).  They compare equal by value, hash, and print readably::

    spec = (F("category") == "tools") & (F("price") < 20) | F("tags").contains_item("sale")
    order = Order.by(desc("price"), asc("name"))
    page = Page(limit=10)

Semantics are MongoDB's, in every adapter: a missing field is null, a predicate on an
array field matches if any element matches, sorting follows BSON type order, and the id
is always appended as the last sort key so pages never repeat or drop items.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable
from typing import Any, Literal, cast

import attrs

from persistence.errors import InvalidSpec, UnknownField, UnsupportedSpec

__all__ = [
    "ALL",
    "FIRST_PAGE",
    "NO_ORDER",
    "All",
    "And",
    "ArrayContains",
    "Change",
    "Changes",
    "Compare",
    "Exists",
    "F",
    "In",
    "Matches",
    "Not",
    "Or",
    "Order",
    "Page",
    "Predicate",
    "SortKey",
    "asc",
    "desc",
    "field_paths",
    "keyset_after",
    "project_row",
    "validate_changes",
    "validate_paths",
]

Scalar = str | int | float | bool | None | datetime.datetime | datetime.date | decimal.Decimal
SCALARS = (str, int, float, bool, type(None), datetime.date, decimal.Decimal)  # datetimes too
CompareOp = Literal["eq", "ne", "lt", "lte", "gt", "gte"]
Anchor = Literal["none", "start", "end", "both"]
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _check_path(path: str) -> str:
    if not isinstance(path, str) or not _PATH.match(path):
        raise UnsupportedSpec(f"not a field path: {path!r}")
    return path


def _check_scalar(value: Any) -> Any:
    if not isinstance(value, SCALARS):
        raise UnsupportedSpec(
            "spec values must be str, int, float, Decimal, bool, None, datetime or date, "
            f"got {value!r}"
        )
    return value


def _scalars(values: Iterable[Any]) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)):
        raise UnsupportedSpec("In/NotIn take a collection of values, not a string")
    return tuple(_check_scalar(v) for v in values)


_NO_TRUTH = (
    "a {what} has no truth value: combine predicates with & (and), | (or) and ~ (not), "
    "not Python's and/or/not, and test membership with F(path).in_([...]), not `in`"
)


class _Combinable:
    """``&``, ``|`` and ``~`` for every predicate."""

    __slots__ = ()

    def __and__(self, other: Predicate) -> And:
        return And((*_flat(self, And), *_flat(other, And)))

    def __or__(self, other: Predicate) -> Or:
        return Or((*_flat(self, Or), *_flat(other, Or)))

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]

    def __bool__(self) -> bool:
        raise TypeError(_NO_TRUTH.format(what=f"predicate {self!r}"))


def _flat(predicate: Any, kind: type) -> tuple[Any, ...]:
    if not isinstance(predicate, _Combinable):
        raise UnsupportedSpec(f"not a predicate: {predicate!r}")
    return predicate.items if isinstance(predicate, kind) else (predicate,)  # type: ignore[attr-defined]


@attrs.frozen(repr=False)
class Compare(_Combinable):
    """``path <op> value`` (``eq`` on an array field matches any element)."""

    path: str = attrs.field(converter=_check_path)
    op: CompareOp = attrs.field()
    value: Scalar = attrs.field(converter=_check_scalar)

    @op.validator
    def _op(self, _: Any, value: str) -> None:
        if value not in ("eq", "ne", "lt", "lte", "gt", "gte"):
            raise UnsupportedSpec(f"unknown comparison {value!r}")

    def __repr__(self) -> str:
        symbol = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        return f"F({self.path!r}) {symbol[self.op]} {self.value!r}"


@attrs.frozen(repr=False)
class In(_Combinable):
    """``path`` equals one of ``values`` (``negate``: none of them)."""

    path: str = attrs.field(converter=_check_path)
    values: tuple[Scalar, ...] = attrs.field(converter=_scalars)
    negate: bool = False

    def __repr__(self) -> str:
        return f"F({self.path!r}).{'not_in' if self.negate else 'in_'}({list(self.values)!r})"


@attrs.frozen(repr=False)
class Matches(_Combinable):
    """``path`` matches a regular expression, anchored as told (never implicitly).

    ``anchor="start"`` puts ``^`` before the pattern, ``"end"`` ``$`` after it,
    ``"both"`` both; ``"none"`` searches anywhere, as MongoDB's ``$regex`` does.
    """

    path: str = attrs.field(converter=_check_path)
    pattern: str = attrs.field()
    anchor: Anchor = attrs.field(default="none")
    ignore_case: bool = False

    @pattern.validator
    def _pattern(self, _: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise UnsupportedSpec(f"a regex pattern must be a string, got {value!r}")
        try:
            re.compile(value)
        except re.error as exc:
            raise UnsupportedSpec(f"invalid regex {value!r}: {exc}") from None

    @anchor.validator
    def _anchor(self, _: Any, value: str) -> None:
        if value not in ("none", "start", "end", "both"):
            raise UnsupportedSpec(f"unknown anchor {value!r}")

    @property
    def regex(self) -> str:
        """The pattern with its anchors applied."""
        start = "^" if self.anchor in ("start", "both") else ""
        end = "$" if self.anchor in ("end", "both") else ""
        return f"{start}(?:{self.pattern}){end}" if start or end else self.pattern

    def __repr__(self) -> str:
        flags = ", ignore_case=True" if self.ignore_case else ""
        return f"F({self.path!r}).matches({self.pattern!r}, anchor={self.anchor!r}{flags})"


@attrs.frozen(repr=False)
class Exists(_Combinable):
    """``path`` is present (``exists=False``: absent). A null value is present."""

    path: str = attrs.field(converter=_check_path)
    exists: bool = True

    def __repr__(self) -> str:
        return f"F({self.path!r}).exists({self.exists!r})"


@attrs.frozen(repr=False)
class ArrayContains(_Combinable):
    """``path`` is an array with an element equal to ``value``."""

    path: str = attrs.field(converter=_check_path)
    value: Scalar = attrs.field(converter=_check_scalar)

    def __repr__(self) -> str:
        return f"F({self.path!r}).contains_item({self.value!r})"


@attrs.frozen(repr=False)
class And(_Combinable):
    """Every predicate holds (``And(())`` matches everything)."""

    items: tuple[Predicate, ...] = attrs.field(converter=tuple)

    def __repr__(self) -> str:
        return "All()" if not self.items else "(" + " & ".join(map(repr, self.items)) + ")"


@attrs.frozen(repr=False)
class Or(_Combinable):
    """At least one predicate holds."""

    items: tuple[Predicate, ...] = attrs.field(converter=tuple)

    @items.validator
    def _items(self, _: Any, value: tuple[Any, ...]) -> None:
        if not value:
            raise UnsupportedSpec("Or() needs at least one predicate")

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.items)) + ")"


@attrs.frozen(repr=False)
class Not(_Combinable):
    """The predicate does not hold."""

    item: Predicate

    def __repr__(self) -> str:
        return f"~{self.item!r}"


Predicate = Compare | In | Matches | Exists | ArrayContains | And | Or | Not
PREDICATES = (Compare, In, Matches, Exists, ArrayContains, And, Or, Not)


def All() -> And:
    """The predicate matching every entity."""
    return And(())


@attrs.frozen(eq=False)
class F:
    """A field path, to build predicates: ``F("price") < 10``, ``F("a.b").exists()``."""

    path: str = attrs.field(converter=_check_path)

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.path, "eq", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.path, "ne", value)

    def __lt__(self, value: Any) -> Compare:
        return Compare(self.path, "lt", value)

    def __le__(self, value: Any) -> Compare:
        return Compare(self.path, "lte", value)

    def __gt__(self, value: Any) -> Compare:
        return Compare(self.path, "gt", value)

    def __ge__(self, value: Any) -> Compare:
        return Compare(self.path, "gte", value)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(_NO_TRUTH.format(what=f"field path F({self.path!r})"))

    def in_(self, values: Iterable[Any]) -> In:
        return In(self.path, values)

    def not_in(self, values: Iterable[Any]) -> In:
        return In(self.path, values, negate=True)

    def contains(self, text: str) -> Matches:
        """Substring match (case-sensitive unless ``ignore_case``)."""
        return Matches(self.path, re.escape(text))

    def startswith(self, prefix: str) -> Matches:
        return Matches(self.path, re.escape(prefix), anchor="start")

    def matches(self, pattern: str, anchor: Anchor = "none", ignore_case: bool = False) -> Matches:
        return Matches(self.path, pattern, anchor, ignore_case)

    def exists(self, exists: bool = True) -> Exists:
        return Exists(self.path, exists)

    def contains_item(self, value: Any) -> ArrayContains:
        return ArrayContains(self.path, value)


# -- ordering and paging -----------------------------------------------------------------


@attrs.frozen(repr=False)
class SortKey:
    """One sort key: a field path and a direction."""

    path: str = attrs.field(converter=_check_path)
    descending: bool = False

    def __repr__(self) -> str:
        return f"{'desc' if self.descending else 'asc'}({self.path!r})"


def asc(path: str) -> SortKey:
    return SortKey(path)


def desc(path: str) -> SortKey:
    return SortKey(path, descending=True)


def _sort_keys(keys: Iterable[SortKey]) -> tuple[SortKey, ...]:
    return tuple(keys)


def _change_items(items: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(items)


@attrs.frozen(repr=False)
class Order:
    """Sort keys, most significant first.  ``id`` is always the last key when applied."""

    keys: tuple[SortKey, ...] = attrs.field(converter=_sort_keys, factory=tuple)

    @classmethod
    def by(cls, *keys: SortKey | str) -> Order:
        """``Order.by(desc("price"), "name")`` (a plain string sorts ascending)."""
        return cls(tuple(k if isinstance(k, SortKey) else SortKey(k) for k in keys))

    def with_id(self) -> tuple[SortKey, ...]:
        """The keys with ``id`` appended (same direction as the last key) if absent."""
        if any(k.path == "id" for k in self.keys):
            return self.keys
        last_descending = self.keys[-1].descending if self.keys else False
        return (*self.keys, SortKey("id", last_descending))

    def __repr__(self) -> str:
        return f"Order.by({', '.join(map(repr, self.keys))})"


@attrs.frozen
class Page:
    """Skip/limit paging, or keyset paging with ``after`` (the sort values of the last item).

    ``after`` holds one value per key of ``Order.with_id()``; get it with
    :func:`keyset_after`.
    """

    skip: int = attrs.field(default=0)
    limit: int | None = attrs.field(default=None)
    after: tuple[Any, ...] | None = attrs.field(default=None)

    @skip.validator
    def _skip(self, _: Any, value: int) -> None:
        if not isinstance(value, int) or value < 0:
            raise UnsupportedSpec(f"skip must be a non-negative int, got {value!r}")

    @limit.validator
    def _limit(self, _: Any, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 0):
            raise UnsupportedSpec(f"limit must be a non-negative int, got {value!r}")

    @after.validator
    def _after(self, _: Any, value: tuple[Any, ...] | None) -> None:
        if value is not None:
            _scalars(value)


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
    return obj


def keyset_after(entity: Any, order: Order) -> tuple[Any, ...]:
    """The ``Page.after`` value continuing after ``entity`` in ``order``."""
    return tuple(_get_path(entity, key.path) for key in order.with_id())


# -- changes -----------------------------------------------------------------------------


@attrs.frozen
class Change:
    """One change: ``set``, ``unset``, ``inc``, ``push`` or ``pull`` on ``path``."""

    op: Literal["set", "unset", "inc", "push", "pull"] = attrs.field()
    path: str = attrs.field(converter=_check_path)
    value: Scalar = attrs.field(default=None, converter=_check_scalar)

    @op.validator
    def _op(self, _: Any, value: str) -> None:
        if value not in ("set", "unset", "inc", "push", "pull"):
            raise UnsupportedSpec(f"unknown change {value!r}")

    @path.validator
    def _path(self, _: Any, value: str) -> None:
        if value == "id" or value.startswith("id."):
            raise InvalidSpec("", value, message=f"{value!r} is the id: changes cannot write it")


@attrs.frozen
class Changes:
    """A typed change set for ``update_where``: ``Changes().set("a", 1).inc("n", 2)``."""

    items: tuple[Change, ...] = attrs.field(converter=_change_items, factory=tuple)

    @items.validator
    def _items(self, _: Any, value: tuple[Change, ...]) -> None:
        paths = [c.path for c in value]
        if len(set(paths)) != len(paths):
            raise UnsupportedSpec("a change set may touch each field once")

    def _with(self, change: Change) -> Changes:
        return Changes((*self.items, change))

    def set(self, path: str, value: Any) -> Changes:
        return self._with(Change("set", path, value))

    def unset(self, path: str) -> Changes:
        return self._with(Change("unset", path))

    def inc(self, path: str, by: int | float | decimal.Decimal = 1) -> Changes:
        if isinstance(by, bool) or not isinstance(by, (int, float, decimal.Decimal)):
            raise UnsupportedSpec(f"inc needs a number, got {by!r}")
        return self._with(Change("inc", path, by))

    def push(self, path: str, value: Any) -> Changes:
        return self._with(Change("push", path, value))

    def pull(self, path: str, value: Any) -> Changes:
        return self._with(Change("pull", path, value))


# -- validation against an entity ----------------------------------------------------------


def field_paths(predicate: Predicate) -> Iterable[str]:
    """Every field path a predicate mentions."""
    if isinstance(predicate, (And, Or)):
        for item in predicate.items:
            yield from field_paths(item)
    elif isinstance(predicate, Not):
        yield from field_paths(predicate.item)
    elif isinstance(predicate, PREDICATES):
        yield predicate.path
    else:
        raise UnsupportedSpec(f"not a predicate: {predicate!r}")


def _known(entity_cls: type, path: str) -> bool:
    cls: Any = entity_cls
    for part in path.split("."):
        if not (isinstance(cls, type) and attrs.has(cls)):
            return False
        fields = attrs.fields_dict(cls)
        if part not in fields:
            return False
        cls = _nested_type(fields[part].type)
    return True


def _nested_type(annotation: Any) -> Any:
    """The attrs class inside ``X``, ``X | None`` or ``Optional[X]``, else None."""
    if isinstance(annotation, type) and attrs.has(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and attrs.has(arg):
            return arg
    return None


_KNOWN_PATHS: set[tuple[type, str]] = set()
"""(entity class, path) pairs found valid: a spec's paths are walked once per shape."""


def validate_paths(entity_cls: type, paths: Iterable[str]) -> None:
    """``UnknownField`` naming the first path ``entity_cls`` does not have."""
    known = _KNOWN_PATHS
    for path in paths:
        if (entity_cls, path) in known:
            continue
        attrs.resolve_types(entity_cls)
        if not _known(entity_cls, path):
            raise UnknownField(entity_cls.__name__, path)
        known.add((entity_cls, path))


def validate_changes(entity_cls: type, changes: Changes) -> Changes:
    """Check ``changes`` against ``entity_cls`` before any write.

    Paths must exist (``UnknownField``); a ``set`` of a top-level field goes through the
    field's converter and validator (so it fails as making the entity would).
    """
    validate_paths(entity_cls, (c.path for c in changes.items))
    fields = attrs.fields_dict(entity_cls)
    checked = []
    for change in changes.items:
        field = fields.get(change.path)
        if change.op == "set" and field is not None:
            convert = cast(Any, field.converter)
            value = convert(change.value) if convert else change.value
            if field.validator is not None:
                field.validator(None, field, value)
            change = attrs.evolve(change, value=value)
        elif change.op == "unset" and field is not None and field.default is attrs.NOTHING:
            raise UnsupportedSpec(f"{entity_cls.__name__}.{change.path} is required")
        checked.append(change)
    if all(a is b for a, b in zip(checked, changes.items, strict=True)):
        return changes  # nothing converted: the same change set
    return Changes(tuple(checked))


def project_row(doc: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """``{"id": ..., path: value}`` from a stored document (``_id`` as a string)."""
    row: dict[str, Any] = {"id": str(doc["_id"])}
    for path in fields:
        if path != "id":
            row[path] = _get_path(doc, path)
    return row


ALL = All()
NO_ORDER = Order()
FIRST_PAGE = Page()
