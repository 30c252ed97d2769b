"""Example application services: each takes a unit of work and composes one block."""

from __future__ import annotations

from collections.abc import Iterable

from .entities import User
from .library import Attachment
from .ports import UnitOfWork

__all__ = [
    "attach_file",
    "deactivate_users",
    "register_user",
    "remove_attachment",
    "rename_user",
]


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


async def attach_file(
    uow: UnitOfWork,
    book_id: str,
    data: bytes,
    filename: str,
    content_type: str | None,
    *,
    expected_version: int | None = None,
) -> Attachment:
    """Store a file and attach it to a book, in one block.

    If the block fails (the book changed since ``expected_version``, say), the stored
    file is deleted again by the unit of work: no orphan is left.
    """
    async with uow:
        book = await uow.books.get(book_id)
        if expected_version is not None:
            book.version = expected_version
        file_id = await uow.files.put(data, filename=filename, content_type=content_type)
        attachment = Attachment(
            file_id=file_id, filename=filename, content_type=content_type, length=len(data)
        )
        book.attachments.append(attachment)
        await uow.books.save(book)
        await uow.commit()
    return attachment


async def remove_attachment(uow: UnitOfWork, book_id: str, file_id: str) -> None:
    """Detach a file from a book and delete it (the deletion happens at the commit)."""
    async with uow:
        book = await uow.books.get(book_id)
        book.attachments = [a for a in book.attachments if a.file_id != file_id]
        await uow.files.delete(file_id)
        await uow.books.save(book)
        await uow.commit()
