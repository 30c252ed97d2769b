"""The reference application's services: each takes a unit of work and composes one block.

They reach repositories through the application's typed protocol
(:class:`~domain.app_ports.AppUnitOfWork`: ``uow.users``) or the port's
``uow.repo(Entity)``; both adapters offer both."""

from __future__ import annotations

from collections.abc import Iterable

from domain.app_ports import AppUnitOfWork
from domain.entities import User
from domain.errors import InsufficientFunds
from domain.events import TransferCompleted
from domain.library import Attachment, Author, Book, Comment, Post
from persistence.errors import NotFound
from persistence.ids import is_valid_id
from persistence.specs import F

__all__ = [
    "add_comment",
    "attach_file",
    "create_author",
    "create_book",
    "deactivate_users",
    "delete_author",
    "publish_post",
    "register_user",
    "remove_attachment",
    "rename_user",
    "transfer_funds",
    "write_post",
]


async def register_user(uow: AppUnitOfWork, *, name: str, email: str) -> User:
    """Register a new user (``Conflict`` if the email is taken; nothing is written)."""
    user = User(name=name, email=email)

    async def add(uow: AppUnitOfWork) -> None:
        await uow.repo(User).add(user)

    await uow.run(add)
    return user


async def rename_user(uow: AppUnitOfWork, user_id: str, new_name: str) -> User:
    """Give a user a new name (``NotFound``, ``ConcurrencyConflict`` as the port says)."""
    async def rename(uow: AppUnitOfWork) -> User:
        user = await uow.users.get(user_id)
        user.name = new_name
        return await uow.users.save(user)

    return await uow.run(rename)


async def deactivate_users(uow: AppUnitOfWork, ids: Iterable[str]) -> int:
    """Deactivate the given users that are active; return how many changed."""
    wanted = list(ids)

    async def deactivate(uow: AppUnitOfWork) -> int:
        changed = 0
        for user in await uow.users.get_many(wanted):
            if user.active:
                user.active = False
                await uow.users.save(user)
                changed += 1
        return changed

    return await uow.run(deactivate)


async def attach_file(
    uow: AppUnitOfWork,
    book_id: str,
    data: bytes,
    filename: str,
    content_type: str | None,
    *,
    expected_version: int | None = None,
) -> Attachment:
    """Store a file and attach it to a book, in one block.

    If the block fails (the book changed since ``expected_version``, say), the stored
    file is deleted again by the unit of work: no orphan is left.  Without
    ``expected_version`` a write conflict re-runs the block (``uow.run``); with it the
    conflict reaches the caller at once.
    """
    async def attach(uow: AppUnitOfWork) -> Attachment:
        book = await uow.books.get(book_id)
        if expected_version is not None:
            book.version = expected_version
        file_id = await uow.files.put(data, filename=filename, content_type=content_type)
        attachment = Attachment(
            file_id=file_id, filename=filename, content_type=content_type, length=len(data)
        )
        book.attachments.append(attachment)
        await uow.books.save(book)
        return attachment

    if expected_version is not None:  # the caller's version: a re-run cannot make it current
        async with uow:
            attachment = await attach(uow)
            await uow.commit()
        return attachment
    return await uow.run(attach)


async def remove_attachment(uow: AppUnitOfWork, book_id: str, file_id: str) -> None:
    """Detach a file from a book and delete it (the deletion happens at the commit)."""
    async def detach(uow: AppUnitOfWork) -> None:
        book = await uow.books.get(book_id)
        book.attachments = [a for a in book.attachments if a.file_id != file_id]
        await uow.files.delete(file_id)
        await uow.books.save(book)

    await uow.run(detach)


async def transfer_funds(
    uow: AppUnitOfWork, source_id: str, target_id: str, amount: int
) -> None:
    """Move ``amount`` cents between two accounts, atomically, publishing
    ``TransferCompleted`` with the commit.

    ``InsufficientFunds`` (nothing moves) if the source cannot cover it; a concurrent
    change to either account re-runs the transfer with fresh balances.
    """
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount!r}")

    async def move(uow: AppUnitOfWork) -> None:
        source = await uow.accounts.get(source_id)
        target = await uow.accounts.get(target_id)
        if source_id == target_id:  # after the lookups: a missing account is NotFound
            raise ValueError("source and target are the same account")
        if source.balance < amount:
            raise InsufficientFunds(
                f"account {source_id} holds {source.balance}, cannot send {amount}"
            )
        source.balance -= amount
        target.balance += amount
        await uow.accounts.save(source)
        await uow.accounts.save(target)
        uow.publish(TransferCompleted(source_id, target_id, amount))

    await uow.run(move)


async def publish_post(uow: AppUnitOfWork, post_id: str) -> Post:
    """Publish a draft; its author must still exist (``NotFound`` otherwise)."""
    async def publish(uow: AppUnitOfWork) -> Post:
        post = await uow.posts.get(post_id)
        await uow.authors.get(post.author_id)
        if not post.published:
            post.published = True
            post = await uow.posts.save(post)
        return post

    return await uow.run(publish)


async def delete_author(uow: AppUnitOfWork, author_id: str) -> int:
    """Remove an author with everything their removal cascades to; the unit of work
    deletes the files their books own once the removal commits.  ``DeleteDenied``
    while a contract refers to them, ``NotFound`` if there is no such author.  Returns
    how many books went."""
    if not is_valid_id(author_id):
        raise NotFound("Author", author_id)

    async def remove(uow: AppUnitOfWork) -> int:
        books = await uow.books.count(F("author_id") == author_id)
        await uow.authors.remove(author_id)  # NotFound if there is no such author
        return books

    return await uow.run(remove)


async def create_author(uow: AppUnitOfWork, name: str) -> Author:
    """A new author."""
    author = Author(name=name)

    async def add(uow: AppUnitOfWork) -> None:
        await uow.authors.add(author)

    await uow.run(add)
    return author


async def create_book(uow: AppUnitOfWork, author_id: str, title: str) -> Book:
    """A new book by an existing author (``NotFound`` otherwise)."""
    if not is_valid_id(author_id):
        raise NotFound("Author", author_id)
    book = Book(title=title, author_id=author_id)

    async def add(uow: AppUnitOfWork) -> None:
        await uow.authors.get(author_id)
        await uow.books.add(book)

    await uow.run(add)
    return book


async def write_post(uow: AppUnitOfWork, author_id: str, title: str, body: str) -> Post:
    """A draft post by an existing author (``NotFound`` otherwise)."""
    if not is_valid_id(author_id):
        raise NotFound("Author", author_id)
    post = Post(author_id=author_id, title=title, body=body)

    async def add(uow: AppUnitOfWork) -> None:
        await uow.authors.get(author_id)
        await uow.posts.add(post)

    await uow.run(add)
    return post


async def add_comment(uow: AppUnitOfWork, post_id: str, by: str, text: str) -> Comment:
    """A comment on a published post (``NotFound`` for a missing or unpublished one).

    Many readers comment at once: a write conflict between them re-runs the block.
    """
    if not is_valid_id(post_id):
        raise NotFound("Post", post_id)
    comment = Comment(post_id=post_id, by=by, text=text)

    async def store(uow: AppUnitOfWork) -> None:
        post = await uow.posts.get(post_id)
        if not post.published:
            raise NotFound("Post", post_id)
        await uow.comments.add(comment)

    await uow.run(store)
    return comment
