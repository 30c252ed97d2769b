"""Example application services: each takes a unit of work and composes one block."""

from __future__ import annotations

from collections.abc import Iterable

from .entities import User
from .ports import UnitOfWork

__all__ = ["deactivate_users", "register_user", "rename_user"]


async def register_user(uow: UnitOfWork, *, name: str, email: str) -> User:
    """Register a new user (``Conflict`` if the email is taken; nothing is written)."""
    user = User(name=name, email=email)
    async with uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def rename_user(uow: UnitOfWork, user_id: str, new_name: str) -> User:
    """Give a user a new name (``NotFound``, ``ConcurrencyConflict`` as the port says)."""
    async with uow:
        user = await uow.users.get(user_id)
        user.name = new_name
        user = await uow.users.save(user)
        await uow.commit()
    return user


async def deactivate_users(uow: UnitOfWork, ids: Iterable[str]) -> int:
    """Deactivate the given users that are active; return how many changed."""
    changed = 0
    async with uow:
        for user in await uow.users.get_many(ids):
            if user.active:
                user.active = False
                await uow.users.save(user)
                changed += 1
        await uow.commit()
    return changed
