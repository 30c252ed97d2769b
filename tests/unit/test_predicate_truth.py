"""Predicates and field paths have no truth value: Python's ``and``/``or``/``not`` and
``in`` would silently keep one side (or answer True), so they raise ``TypeError``
saying what to use instead."""

from __future__ import annotations

from typing import Any

import pytest

from persistence.errors import ConcurrencyConflict
from persistence.specs import ALL, F, In


@pytest.mark.parametrize(
    "misuse",
    [
        lambda: (F("stock") > 100) and (F("sku") == "A"),
        lambda: (F("stock") > 100) or (F("sku") == "A"),
        lambda: not (F("stock") > 100),
        lambda: F("stock") in [1, 2],
        lambda: F("stock") and F("sku"),
        lambda: ((F("a") == 1) & (F("b") == 2)) or ALL,
        lambda: ~(F("a") == 1) and ALL,
        lambda: bool(F("a").in_([1])),
    ],
    ids=["and", "or", "not", "in", "path", "and-of", "not-of", "in_"],
)
def test_a_truth_test_raises_and_says_what_to_use(misuse: Any) -> None:
    with pytest.raises(TypeError) as caught:
        misuse()
    message = str(caught.value)
    assert "&" in message and "|" in message and "~" in message and ".in_(" in message


def test_the_operators_still_combine() -> None:
    spec = ((F("stock") > 100) & (F("sku") == "A")) | ~F("tags").contains_item("x")
    assert repr(spec) == "((F('stock') > 100 & F('sku') == 'A') | ~F('tags').contains_item('x'))"
    assert F("stock").in_([1, 2]) == In("stock", (1, 2))
    assert (F("a") == 1) == (F("a") == 1)  # specs still compare by value
    assert len({F("a") == 1, F("a") == 1}) == 1


def test_a_write_conflict_is_named_as_one() -> None:
    unknown = ConcurrencyConflict("Project", None, write_conflict=True, version_field=None)
    assert unknown.field is None
    assert "write conflict on Project:" in str(unknown)
    assert "concurrent transaction" in str(unknown)
    known = ConcurrencyConflict("Order", "ab" * 12, write_conflict=True, version_field="version")
    assert known.field == "version" and repr("ab" * 12) in str(known)
    stale = ConcurrencyConflict("Order", "ab" * 12)
    assert stale.field == "version" and not stale.write_conflict
