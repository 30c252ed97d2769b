"""What a repository knows about the shape of its stored documents, path by path.

Aggregation specs need to know which paths are arrays (a path that crosses one needs an
unwind) and which hold numbers (arithmetic and sums).  A :class:`Schema` answers that:
any callable taking a dotted path and returning its :class:`FieldType`, or None for a
path the aggregate does not have.  A path below an array describes the elements'
fields (``items.sku`` is the ``sku`` of each line item).  Both adapters' repositories
supply the same one, read from the aggregate's registered Document
(:func:`persistence.document_schema.document_schema`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import attrs

__all__ = ["ANY", "KINDS", "FieldType", "Kind", "Schema"]

Kind = Literal["number", "string", "bool", "date", "id", "object", "array", "any"]
KINDS: tuple[str, ...] = ("number", "string", "bool", "date", "id", "object", "array", "any")


@attrs.frozen
class FieldType:
    """The kind of value at a path; for an array, ``of`` is the kind of its elements.

    ``decimal``: numbers the entity holds as ``Decimal`` (so a ``Decimal`` compares with
    them; other number fields take ints and floats only)."""

    kind: Kind = attrs.field()
    of: FieldType | None = None
    decimal: bool = False

    @kind.validator
    def _check_kind(self, _: Any, value: str) -> None:
        if value not in KINDS:
            raise ValueError(f"unknown field kind {value!r}; one of {KINDS}")

    @property
    def is_array(self) -> bool:
        return self.kind == "array"

    @property
    def element(self) -> FieldType:
        """The type of one element (``any`` when the array's contents are undeclared)."""
        return self.of if self.of is not None else ANY


ANY = FieldType("any")


class Schema(Protocol):
    """``schema("items.sku")``: the path's :class:`FieldType`, or None if unknown."""

    def __call__(self, path: str) -> FieldType | None: ...
