"""Entity validation happens when the entity is made, before anything is written."""

from __future__ import annotations

import pytest

from domain.entities import User
from persistence.ids import is_valid_id, new_id


def test_new_ids_are_valid_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(is_valid_id(i) for i in ids)
    assert len(set(ids)) == 1000
    assert int(ids[0][:8], 16) <= int(ids[-1][:8], 16)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "email": "a@example.com"},
        {"name": "x" * 101, "email": "a@example.com"},
        {"name": "A", "email": "not-an-email"},
        {"name": "A", "email": "a@b@example.com"},
        {"name": "A", "email": "a@example.com", "id": "xyz"},
        {"name": "A", "email": "a@example.com", "active": "yes"},
    ],
)
def test_invalid_users_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        User(**fields)  # type: ignore[arg-type]


def test_email_is_normalized() -> None:
    user = User(name="A", email="  Ada@Example.COM ")
    assert user.email == "ada@example.com"
    assert user.version == 0 and user.active is True
